// Linked with every object of wgbpf_core (whole archive) and only the core's own dependencies: the build
// fails here if the pure core starts to need libbpf, netlink or anything of the privileged shell.
int main() { return 0; }
