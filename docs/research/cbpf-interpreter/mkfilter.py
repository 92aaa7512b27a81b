import ctypes, sys, struct
lib = ctypes.CDLL("libpcap.so.0.8")
class insn(ctypes.Structure):
    _fields_=[("code",ctypes.c_ushort),("jt",ctypes.c_ubyte),("jf",ctypes.c_ubyte),("k",ctypes.c_uint)]
class prog(ctypes.Structure):
    _fields_=[("bf_len",ctypes.c_uint),("bf_insns",ctypes.POINTER(insn))]
lib.pcap_open_dead.restype=ctypes.c_void_p
lib.pcap_open_dead.argtypes=[ctypes.c_int,ctypes.c_int]
lib.pcap_compile.argtypes=[ctypes.c_void_p,ctypes.POINTER(prog),ctypes.c_char_p,ctypes.c_int,ctypes.c_uint]
p=lib.pcap_open_dead(12,262144); pr=prog()
assert lib.pcap_compile(p,ctypes.byref(pr),sys.argv[1].encode(),1,0xffffffff)==0
b=struct.pack("<I",pr.bf_len)
for i in range(64):
    if i<pr.bf_len:
        x=pr.bf_insns[i]; b+=struct.pack("<HBBI",x.code,x.jt,x.jf,x.k)
    else: b+=struct.pack("<HBBI",0,0,0,0)
b+=b"\0"*(536-len(b))
print(pr.bf_len, file=sys.stderr)
print(" ".join("%d"%c for c in b))
