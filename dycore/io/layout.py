"""The on-disk layout shared by output and restart files: one plain file per
rank, stitched into the global view by HDF5 virtual datasets.

One rank writes one plain file. N ranks cannot share one file here: this
h5py has no MPI driver. So each rank writes its tile to a file in
``PATH.tiles/`` and rank 0 writes ``PATH`` holding the coordinates, the
attributes and the fields as HDF5 virtual datasets (VDS) that map the tiles
into the global (y, x) or (time, y, x) arrays. No field goes through rank 0.
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


def tile_tuple(tile) -> tuple:
    """(j0, i0, ny, nx) of a tile: where it sits in the global grid (cells)."""
    return (int(tile.j0), int(tile.i0), int(tile.ny), int(tile.nx))


def virtual(f, name, tiles, sources, global_shape, dtype, time_axis: bool) -> None:
    """A virtual dataset ``name`` of shape ([time,] ny, nx) stitched from one
    source file per tile (``tiles`` as :func:`tile_tuple`, ``sources`` the
    file names relative to ``f``'s folder, dataset ``name`` in each); with
    ``time_axis`` the mapping is unlimited in time, so the global view grows
    with the tile files without rewriting ``f`` (HDF5 sizes it from the
    largest source)."""
    ny, nx = global_shape
    shape, maxshape = ((0, ny, nx), (None, ny, nx)) if time_axis else ((ny, nx), (ny, nx))
    layout = h5py.VirtualLayout(shape=shape, dtype=dtype, maxshape=maxshape,
                                filename=f.filename)
    for (j0, i0, tny, tnx), src in zip(tiles, sources):
        if time_axis:
            vspace = h5py.h5s.create_simple((0, ny, nx), (UNLIMITED, ny, nx))
            vspace.select_hyperslab((0, j0, i0), (UNLIMITED, 1, 1), (1, 1, 1), (1, tny, tnx))
            sspace = h5py.h5s.create_simple((0, tny, tnx), (UNLIMITED, tny, tnx))
            sspace.select_hyperslab((0, 0, 0), (UNLIMITED, 1, 1), (1, 1, 1), (1, tny, tnx))
        else:
            vspace = h5py.h5s.create_simple((ny, nx))
            vspace.select_hyperslab((j0, i0), (1, 1), (1, 1), (tny, tnx))
            sspace = h5py.h5s.create_simple((tny, tnx))
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
    plane's Cartesian coordinates)."""
    for name, values, axis in (("x", grid.x_centres(), "X"), ("y", grid.y_centres(), "Y")):
        ds = f.create_dataset(name, data=np.asarray(values, np.float64))
        ds.make_scale(name)
        ds.attrs.update({"units": "m", "axis": axis,
                         "standard_name": f"projection_{name}_coordinate",
                         "long_name": f"{name} coordinate of cell centres"})


def describe(f, field, dims: tuple) -> None:
    """Give dataset ``field.name`` its CF attributes (long_name, units and,
    where the field has one, standard_name) and attach the dimension scales
    ``dims`` (e.g. ("time", "y", "x"))."""
    ds = f[field.name]
    ds.attrs.update({"long_name": field.long_name, "units": field.units})
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
