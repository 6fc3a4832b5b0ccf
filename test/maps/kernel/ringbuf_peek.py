#!/usr/bin/env python3
"""ringbuf_peek: read or advance a pinned BPF ring buffer through its mmap()ed pages, as a
libbpf consumer would. Usage: ringbuf_peek.py PIN SIZE [consume]. Prints JSON
{consumer, producer, data: hex of the SIZE data bytes}; with "consume", first sets
consumer_pos = producer_pos. Used by test/maps/kernel-parity.test.ts."""
import ctypes, json, mmap, os, struct, sys

BPF_OBJ_GET = 7
NR_BPF = 321  # x86_64

def obj_get(path):
    libc = ctypes.CDLL(None, use_errno=True)
    p = ctypes.create_string_buffer(path.encode())
    attr = ctypes.create_string_buffer(struct.pack('<QII', ctypes.addressof(p), 0, 0) + bytes(112))
    fd = libc.syscall(NR_BPF, BPF_OBJ_GET, attr, 128)
    if fd < 0:
        raise OSError(ctypes.get_errno(), 'BPF_OBJ_GET ' + path)
    return fd

def main():
    path, size = sys.argv[1], int(sys.argv[2])
    fd = obj_get(path)
    page = mmap.PAGESIZE
    cons = mmap.mmap(fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
    prod = mmap.mmap(fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
    producer = struct.unpack_from('<Q', prod, 0)[0]
    if len(sys.argv) > 3 and sys.argv[3] == 'consume':
        struct.pack_into('<Q', cons, 0, producer)
    consumer = struct.unpack_from('<Q', cons, 0)[0]
    data = prod[page:page + size]
    print(json.dumps({'consumer': consumer, 'producer': producer, 'data': data.hex()}))
    os.close(fd)

main()
