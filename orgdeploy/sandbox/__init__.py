"""An emulated AWS Organization built on moto.

Nothing outside this subpackage imports it; moto is the optional `sandbox` extra.
"""
