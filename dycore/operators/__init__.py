"""Spatial operators: reconstruction (limiters, WENO) and Riemann fluxes."""
