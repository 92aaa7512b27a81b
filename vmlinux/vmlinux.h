/* Dispatcher: the BPF programs include "vmlinux.h"; this picks the vendored header for the target arch.
 * Regenerate with vmlinux/update.sh (see vmlinux/<arch>/SOURCE for the kernel it came from). */
#if defined(__TARGET_ARCH_x86)
#include "x86_64/vmlinux.h"
#else
#error "wgbpf: no vendored vmlinux.h for this architecture; run vmlinux/update.sh on one and add it here"
#endif
