"""The on-disk layout shared by output and restart files: one plain file per
rank, stitched into the global view by HDF5 virtual datasets.

One rank writes one plain file. N ranks cannot share one file here: this
h5py has no MPI driver. So each rank writes its tile to a file in
``PATH.tiles/`` and rank 0 writes ``PATH`` holding the coordinates, the
attributes and the fields as HDF5 virtual datasets (VDS) that map the tiles
into the global (y, x) or (time, y, x) arrays (on the cubed sphere
(face, y, x) and (time, face, y, x): a grid may declare ``file_shape``,
``file_dims``, ``field_attrs`` and ``write_coordinates``, a tile its
``file_box``; see :mod:`dycore.sphere.files`). No field goes through rank 0.
The source paths are relative to ``PATH``'s folder, so ``PATH`` and
``PATH.tiles/`` move together (copy both; ``consolidate`` makes a
self-contained plain file). Readers need HDF5 >= 1.10 (VDS).

How files are created, locked, published and cleaned up safely (never
through a link, atomically, with room checked) is :mod:`dycore.io.safe_files`.
"""
from __future__ import annotations

import h5py
import numpy as np

UNLIMITED = h5py.h5s.UNLIMITED


def tile_dir(path: str) -> str:
    """Folder of the per-rank files belonging to ``path``."""
    return f"{path}.tiles"


def file_shape(grid) -> tuple:
    """The global shape of a field in the files: (ny, nx) on the plane, or
    what the grid says (``grid.file_shape``; the sphere's (6, N, N))."""
    return tuple(getattr(grid, "file_shape", None) or (grid.ny, grid.nx))


def file_dims(grid) -> tuple:
    """The dimension names of a field in the files: ("y", "x") on the plane."""
    return tuple(getattr(grid, "file_dims", None) or ("y", "x"))


def field_attrs(grid) -> dict:
    """Extra attributes of every field (the sphere's ``coordinates``)."""
    return dict(getattr(grid, "field_attrs", None) or {})


def tile_tuple(tile) -> tuple:
    """Where a tile sits in the global field (cells): its offsets, then its
    counts, along the file's dimensions; (j0, i0, ny, nx) on the plane."""
    box = getattr(tile, "file_box", None)
    return tuple(int(v) for v in box) if box is not None else \
        (int(tile.j0), int(tile.i0), int(tile.ny), int(tile.nx))


def tile_slices(tile) -> tuple:
    """The slices of a tile in the global field (index of a stored dataset)."""
    box = tile_tuple(tile)
    k = len(box) // 2
    return tuple(slice(o, o + c) for o, c in zip(box[:k], box[k:]))


def virtual(f, name, tiles, sources, global_shape, dtype, time_axis: bool) -> None:
    """A virtual dataset ``name`` of shape ([time,] *global_shape) (e.g.
    (ny, nx)) stitched from one source file per tile (``tiles`` as
    :func:`tile_tuple`, ``sources`` the file names relative to ``f``'s
    folder, dataset ``name`` in each); with ``time_axis`` the mapping is
    unlimited in time, so the global view grows with the tile files without
    rewriting ``f`` (HDF5 sizes it from the largest source)."""
    shape = tuple(global_shape)
    k = len(shape)
    ones = (1,) * k
    full, maxshape = ((0, *shape), (None, *shape)) if time_axis else (shape, shape)
    layout = h5py.VirtualLayout(shape=full, dtype=dtype, maxshape=maxshape,
                                filename=f.filename)
    for box, src in zip(tiles, sources):
        offset, count = tuple(box[:k]), tuple(box[k:])
        if time_axis:
            vspace = h5py.h5s.create_simple((0, *shape), (UNLIMITED, *shape))
            vspace.select_hyperslab((0, *offset), (UNLIMITED, *ones), (1, *ones), (1, *count))
            sspace = h5py.h5s.create_simple((0, *count), (UNLIMITED, *count))
            sspace.select_hyperslab((0,) * (k + 1), (UNLIMITED, *ones), (1, *ones),
                                    (1, *count))
        else:
            vspace = h5py.h5s.create_simple(shape)
            vspace.select_hyperslab(offset, ones, ones, count)
            sspace = h5py.h5s.create_simple(count)
        layout.dcpl.set_virtual(vspace, src.encode(), name.encode(), sspace)
    f.create_virtual_dataset(name, layout, fillvalue=np.nan)


HDF5_INTERNAL = frozenset({"DIMENSION_LIST", "REFERENCE_LIST", "CLASS", "NAME",
                           "DIMENSION_LABELS", "_Netcdf4Dimid", "_Netcdf4Coordinates"})
"""Attributes that HDF5 dimension scales and netCDF-4 use for their own
bookkeeping (netCDF readers hide all but ``DIMENSION_LABELS``, which is why
we never set dimension labels: the scales' names are the dimension names)."""


def coordinates(f, grid) -> None:
    """x, y (m) as dimension scales of the same names: CF coordinate
    variables (``axis``, ``standard_name`` projection_x/y_coordinate: the
    plane's Cartesian coordinates); a grid with ``write_coordinates(f)``
    (the cubed sphere) writes its own."""
    if hasattr(grid, "write_coordinates"):
        grid.write_coordinates(f)
        return
    for name, values, axis in (("x", grid.x_centres(), "X"), ("y", grid.y_centres(), "Y")):
        ds = f.create_dataset(name, data=np.asarray(values, np.float64))
        ds.make_scale(name)
        ds.attrs.update({"units": "m", "axis": axis,
                         "standard_name": f"projection_{name}_coordinate",
                         "long_name": f"{name} coordinate of cell centres"})


def describe(f, field, dims: tuple, extra: dict | None = None) -> None:
    """Give dataset ``field.name`` its CF attributes (long_name, units and,
    where the field has one, standard_name; ``extra``, e.g. the sphere's
    ``coordinates``) and attach the dimension scales ``dims`` (e.g.
    ("time", "y", "x"))."""
    ds = f[field.name]
    ds.attrs.update({"long_name": field.long_name, "units": field.units, **(extra or {})})
    if field.standard_name is not None:
        ds.attrs["standard_name"] = field.standard_name
    for axis, dim in enumerate(dims):
        ds.dims[axis].attach_scale(f[dim])


def local_values(state, field, dtype) -> np.ndarray:
    """This rank's values of ``field`` in ``state`` (looked up by name), as ``dtype``."""
    return np.asarray(getattr(state, field.name)).astype(dtype, copy=False)


def consolidate(path, dest) -> None:
    """Copy an output or restart file into one self-contained plain file
    ``dest``, virtual datasets materialised (serial; any process)."""
    reserved = HDF5_INTERNAL
    with h5py.File(path, "r") as src, h5py.File(dest, "w") as out:
        out.attrs.update(dict(src.attrs))
        for name, ds in src.items():
            kwargs = {}
            if ds.maxshape and ds.maxshape[0] is None:
                kwargs = {"maxshape": ds.maxshape,
                          "chunks": (512,) if ds.ndim == 1 else (1, *ds.shape[1:])}
            new = out.create_dataset(name, data=ds[()], **kwargs)
            new.attrs.update({k: v for k, v in ds.attrs.items() if k not in reserved})
            if ds.is_scale:
                new.make_scale(name)
        for name, ds in src.items():
            if ds.is_scale:
                continue
            for axis, dim in enumerate(ds.dims):
                if len(dim):
                    out[name].dims[axis].attach_scale(out[dim[0].name])
