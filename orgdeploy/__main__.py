from orgdeploy.cli import main

main()
