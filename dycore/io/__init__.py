"""File input/output: HDF5 output series and restart files.

- :mod:`dycore.io.output`: :class:`OutputWriter` (frames of the global
  fields, one file per rank stitched by virtual datasets), ``part_path``;
- :mod:`dycore.io.restart`: :func:`write_restart`, :func:`read_restart`
  and their checks;
- :mod:`dycore.io.model`: the adapter from a Simulation to the writers
  (``open_output``, ``save_restart``, ``restore``): which fields, derived
  fields and per-cell parameters (the bed actually used) a run's files
  hold, and their CF-1.11 attributes;
- :mod:`dycore.io.initial`: the initial state and bed from a file
  (config key ``initial_file``);
- :mod:`dycore.io.attributes`: the config as root attributes and back;
- :mod:`dycore.io.layout`: the on-disk layout both share (tile folders,
  VDS, coordinates) and ``consolidate`` (one self-contained file from
  either kind);
- :mod:`dycore.io.safe_files`: exclusive creation (never through a link),
  locks, room checks, atomic publishing, link-safe clean-up;
- :mod:`dycore.io.collective`: the agreement between ranks that makes every
  operation here collective: an I/O failure on any rank is raised as
  :class:`OutputError` (or :class:`ConfigError` for bad input) on every
  rank, so no rank is left waiting in MPI.

The writers take what they write explicitly (context, grid, tile, the
field declarations of :mod:`dycore.equations.base`, the dtype, the root
attributes), not a whole Simulation.
"""
from dycore.io.attributes import config_attrs, config_from_attrs, config_from_json
from dycore.io.collective import OutputError, allgather, collectively
from dycore.io.layout import consolidate, tile_dir
from dycore.io.output import OutputWriter, part_path
from dycore.io.restart import (read_restart, read_restart_attrs, read_restart_config,
                               write_restart)

__all__ = ["OutputError", "OutputWriter", "allgather", "collectively", "config_attrs",
           "config_from_attrs", "config_from_json", "consolidate", "part_path",
           "read_restart", "read_restart_attrs", "read_restart_config", "tile_dir",
           "write_restart"]
