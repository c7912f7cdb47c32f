"""promptgen.allocator: freed batch-sized blocks stay in the heap for the next batch."""

import ctypes
import ctypes.util

import pytest

from promptgen.allocator import reuse_freed_memory


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")
    ]  # fmt: skip


def _glibc():
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc ≥ 2.33 (mallinfo2)")
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


def test_a_freed_batch_sized_block_stays_in_the_heap():
    libc = _glibc()
    assert reuse_freed_memory() is True
    size = 24 * 2**20  # one batch of 512 images of 3×64×64 float32
    block = libc.malloc(size)
    assert block
    assert libc.mallinfo2().hblkhd < size, "the block was served by mmap"
    libc.free(block)
    assert libc.mallinfo2().fordblks >= size, "the freed block went back to the kernel"
