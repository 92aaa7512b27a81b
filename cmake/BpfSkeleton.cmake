# wgbpf_bpf_skeleton(NAME [DIR]): DIR/NAME.bpf.c (default DIR: bpf/) -> NAME.bpf.o (clang, BPF target, CO-RE)
# -> skel/NAME.skel.h
find_program(BPF_CLANG NAMES clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
find_program(BPF_STRIP NAMES llvm-strip llvm-strip-14 REQUIRED) # drop DWARF, keep BTF: smaller skeletons

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|amd64")
  set(WGBPF_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(WGBPF_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "wgbpf: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

file(GLOB WGBPF_BPF_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.bpf.h ${CMAKE_SOURCE_DIR}/include/wgbpf/abi/*.h)

function(wgbpf_bpf_skeleton name)
  set(dir ${CMAKE_SOURCE_DIR}/bpf)
  if(ARGC GREATER 1)
    set(dir ${ARGV1})
  endif()
  set(src ${dir}/${name}.bpf.c)
  set(obj ${CMAKE_BINARY_DIR}/bpf/${name}.bpf.o)
  set(skel ${CMAKE_BINARY_DIR}/skel/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/bpf
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${WGBPF_BPF_ARCH} -Wall -Werror
            -I${CMAKE_SOURCE_DIR}/vmlinux -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
            -c ${src} -o ${obj}
    COMMAND ${BPF_STRIP} -g ${obj}
    DEPENDS ${src} ${WGBPF_BPF_HEADERS}
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/skel
    COMMAND sh -c "${BPFTOOL} gen skeleton ${obj} name wgbpf_${name}_bpf > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(wgbpf_skel_${name} DEPENDS ${skel})
endfunction()
