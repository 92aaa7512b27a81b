import ctypes, sys
lib = ctypes.CDLL("libpcap.so.0.8")
class insn(ctypes.Structure):
    _fields_=[("code",ctypes.c_ushort),("jt",ctypes.c_ubyte),("jf",ctypes.c_ubyte),("k",ctypes.c_uint)]
class prog(ctypes.Structure):
    _fields_=[("bf_len",ctypes.c_uint),("bf_insns",ctypes.POINTER(insn))]
lib.pcap_open_dead.restype=ctypes.c_void_p
lib.pcap_open_dead.argtypes=[ctypes.c_int,ctypes.c_int]
lib.pcap_compile.argtypes=[ctypes.c_void_p,ctypes.POINTER(prog),ctypes.c_char_p,ctypes.c_int,ctypes.c_uint]
lib.pcap_geterr.restype=ctypes.c_char_p; lib.pcap_geterr.argtypes=[ctypes.c_void_p]
lib.bpf_image.restype=ctypes.c_char_p; lib.bpf_image.argtypes=[ctypes.POINTER(insn),ctypes.c_int]
lib.pcap_lib_version.restype=ctypes.c_char_p
print(lib.pcap_lib_version().decode())
dlt=int(sys.argv[1])
for expr in sys.argv[2:]:
    p=lib.pcap_open_dead(dlt,262144)
    pr=prog()
    rc=lib.pcap_compile(p,ctypes.byref(pr),expr.encode(),1,0xffffffff)
    print("=== %r (dlt %d) rc=%d"%(expr,dlt,rc))
    if rc<0:
        print("ERR:",lib.pcap_geterr(p).decode()); continue
    for i in range(pr.bf_len):
        print("  ", lib.bpf_image(ctypes.byref(pr.bf_insns[i]), i).decode(), "   code=0x%02x jt=%d jf=%d k=0x%x"%(pr.bf_insns[i].code,pr.bf_insns[i].jt,pr.bf_insns[i].jf,pr.bf_insns[i].k))
