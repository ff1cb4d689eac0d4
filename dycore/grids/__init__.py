"""Grids: the geometry of the cells a model runs on (the plane grid lives in
:mod:`dycore.grid`; the cubed sphere in :mod:`dycore.grids.cubed_sphere`)."""
