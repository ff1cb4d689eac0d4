"""File input/output: HDF5 output series and restart files (see :mod:`dycore.io.hdf5`)."""
from dycore.io.hdf5 import (
    OutputError,
    OutputWriter,
    config_from_attrs,
    config_from_json,
    consolidate,
    part_path,
    read_restart,
    read_restart_attrs,
    read_restart_config,
    write_restart,
)

__all__ = ["OutputError", "OutputWriter", "config_from_attrs", "config_from_json",
           "consolidate", "part_path", "read_restart", "read_restart_attrs", "read_restart_config",
           "write_restart"]
