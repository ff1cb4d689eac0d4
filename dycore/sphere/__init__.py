"""The cubed sphere: :class:`SphereModel` (shallow water, Williamson test 1's
advection), its cases and geometry. Importing it loads JAX (``import dycore``
does not import this package)."""
from dycore.equations.sphere_shallow_water import FIELDS
from dycore.sphere.model import DAY, GRAVITY, OMEGA, SPHERE_CASES, SphereModel

__all__ = ["DAY", "FIELDS", "GRAVITY", "OMEGA", "SPHERE_CASES", "SphereModel"]
