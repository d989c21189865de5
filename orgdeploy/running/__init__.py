"""Holds the shell that carries a Plan out: the executor, the use cases behind the deploy commands, progress.
Imports the pure rooms and aws/; never cli/ or sandbox/.
"""
