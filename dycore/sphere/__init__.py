"""The cubed sphere: :class:`SphereModel` (shallow water, Williamson test 1's
advection), its cases and geometry; :class:`SphereSimulation` (a sphere case
from a :class:`dycore.Config`, for the run loop and the driver); and
:func:`interpolate_latlon` (fields onto a regular lon-lat grid, numpy).
Importing it loads JAX (``import dycore`` does not import this package)."""
from dycore.equations.sphere_shallow_water import FIELDS
from dycore.sphere.interpolate import interpolate_latlon
from dycore.sphere.model import DAY, GRAVITY, OMEGA, SPHERE_CASES, SphereModel
from dycore.sphere.simulation import SphereSimulation

__all__ = ["DAY", "FIELDS", "GRAVITY", "OMEGA", "SPHERE_CASES", "SphereModel",
           "SphereSimulation", "interpolate_latlon"]
