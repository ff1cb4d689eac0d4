"""A point-to-point MPI message as a JAX primitive that is differentiable in
forward and reverse mode, for the halo exchange.

``exchange(buf, source, dest, tag, comm)`` sends ``buf`` to rank ``dest`` and
returns what rank ``source`` sends (an ``MPI_Sendrecv``; either may be
``MPI.PROC_NULL``: then nothing is sent, or nothing is received and the
result is zeros). As a function of the buffers of all ranks it is a linear
map (a permutation of data between ranks, dropping what goes to
``PROC_NULL``), so

- its JVP (tangent-linear) is the same message applied to the tangent:
  tangents travel the routes the values travel;
- its transpose (adjoint) is the message sent the other way, from ``dest``
  back to ``source``; a buffer sent to ``PROC_NULL`` gets a zero cotangent
  (the transposed message receives from ``PROC_NULL``: zeros, never the
  unwritten memory MPI leaves there).

The buffer sent to ``PROC_NULL`` is the real data, not zeros: a message
whose input is a constant has no data dependency on the stage it belongs
to, and XLA's scheduler hoisted it above the previous stage's computation,
where it blocked waiting for its partner. On 2 ranks this serialised the
ranks (each computed while the other waited: 162 instead of 97
ms/step/Mcell at 256 x 256 cells per rank).

mpi4jax's own ``sendrecv`` has the transpose but refuses to run its JVP
unless the JVP is transposed afterwards (it lowers it with an error), so
``jax.jvp`` through a halo exchange raised. This primitive lowers to
mpi4jax's ``sendrecv`` (same ordered effect, hence the same program order of
messages on every rank) and carries both rules. Every rank binds the same
messages in the same order in all modes; symbolic-zero cotangents are
instantiated so that a rank never skips a message its partner posts.

Under ``jax.vmap`` the batch axis is moved to the front of the buffer and
the message carries the whole batch: sender and receiver then agree on the
layout whatever operations built their buffers. Uses mpi4jax's private
``ordered_effect`` through :mod:`parallel.compat`.
"""
from __future__ import annotations

import jax.numpy as jnp
import mpi4jax
from jax.core import ShapedArray
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir
from mpi4py import MPI

from parallel.compat import ordered_effect, unpack_hashable, wrap_as_hashable

exchange_p = Primitive("dycore_halo_exchange")


def exchange(buf, source: int, dest: int, tag: int, comm):
    """Send ``buf`` to ``dest``, return the same-shaped buffer received from ``source``."""
    return exchange_p.bind(buf, source=int(source), dest=int(dest), tag=int(tag),
                           comm=wrap_as_hashable(comm))


def _sendrecv(buf, *, source, dest, tag, comm):
    got = mpi4jax.sendrecv(buf, buf, source, dest, sendtag=tag, recvtag=tag,
                           comm=unpack_hashable(comm))
    # Nothing arrives from PROC_NULL: the buffer is unwritten memory. The
    # message is still posted (ordered effect), so partners stay matched.
    return jnp.zeros_like(got) if source == MPI.PROC_NULL else got


def _abstract_eval(buf, **_):
    return ShapedArray(buf.shape, buf.dtype), {ordered_effect}


def _transpose(cotangent, buf, *, source, dest, tag, comm):
    del buf  # linear: the cotangent alone determines the result
    cotangent = ad.instantiate_zeros(cotangent)
    return [exchange_p.bind(cotangent, source=dest, dest=source, tag=tag, comm=comm)]


def _batch(args, dims, **params):
    buf = jnp.moveaxis(args[0], dims[0], 0)
    return exchange_p.bind(buf, **params), 0


exchange_p.def_impl(_sendrecv)
exchange_p.def_effectful_abstract_eval(_abstract_eval)
mlir.register_lowering(exchange_p, mlir.lower_fun(_sendrecv, multiple_results=False))
ad.deflinear2(exchange_p, _transpose)
batching.primitive_batchers[exchange_p] = _batch
