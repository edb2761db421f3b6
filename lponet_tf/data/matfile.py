"""Load MATLAB ``.mat`` files of any version into plain numpy arrays.

v4-v7.2 files go through ``scipy.io.loadmat``; v7.3 files are HDF5 and go through ``h5py``
(scipy cannot read them). Either way the caller sees the same thing: a dict from variable
name to a numpy array *in MATLAB's row/column order* (h5py stores MATLAB arrays with the
dimensions reversed, so they are transposed back here), and cell arrays as numpy object
arrays whose elements are arrays in MATLAB order too.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, Optional

import numpy as np

from lponet_tf.errors import DataError

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path) -> bool:
    # MATLAB v7.3 files carry a 512-byte text header (the HDF5 user block) before the
    # HDF5 signature; plain HDF5 files start with it.
    with open(path, "rb") as f:
        head = f.read(520)
    return head[:8] == _HDF5_SIGNATURE or head[512:520] == _HDF5_SIGNATURE


def load_mat(path, keys: Optional[Iterable[str]] = None) -> Dict[str, np.ndarray]:
    """Read variables from a ``.mat`` file.

    Args:
        path: the ``.mat`` file.
        keys: names to read (all variables when None). Missing names are simply absent
            from the result; callers raise their own, more specific, error.

    Returns:
        dict name -> numpy array in MATLAB dimension order (a ``2 x 68`` MATLAB matrix is
        ``(2, 68)`` here, whichever file version). Cell arrays are object arrays.

    Raises:
        DataError: the file is missing, truncated, or not a MAT file.

    Example:
        >>> m = load_mat("image00050.mat", keys=["pt3d_68", "Pose_Para"])  # doctest: +SKIP
        >>> m["pt3d_68"].shape  # doctest: +SKIP
        (3, 68)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(path, "file not found")
    keys = None if keys is None else list(keys)
    try:
        if _is_hdf5(path):
            return _load_hdf5(path, keys)
        import scipy.io

        data = scipy.io.loadmat(path, variable_names=keys)
        if keys is not None and not all(k in data for k in keys):
            # With variable_names, scipy stops quietly at a truncated element, so a
            # requested variable can look absent from a damaged file. A full read tells
            # "absent" (returns) from "damaged" (raises).
            data = {k: v for k, v in scipy.io.loadmat(path).items() if k in keys}
    except DataError:
        raise
    except Exception as e:  # scipy / h5py raise many types for a corrupt file
        raise DataError(path, f"unreadable .mat file ({type(e).__name__}: {e})") from None
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _load_hdf5(path: str, keys) -> Dict[str, np.ndarray]:
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        names = [k for k in f.keys() if not k.startswith("#")] if keys is None else keys
        for name in names:
            if name in f and isinstance(f[name], h5py.Dataset):
                out[name] = _hdf5_value(f, f[name])
    return out


def _hdf5_value(f, dataset) -> np.ndarray:
    import h5py

    value = dataset[()]
    if dataset.dtype == h5py.ref_dtype:
        # A cell array: an array of references to datasets (MATLAB keeps them in "#refs#").
        cells = np.empty(value.shape, dtype=object)
        for index in np.ndindex(value.shape):
            cells[index] = _hdf5_value(f, f[value[index]])
        return cells.T
    return np.asarray(value).T
