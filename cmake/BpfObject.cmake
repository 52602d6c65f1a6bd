# bpf_object(NAME SOURCE [DEPENDS hdr...]): compiles SOURCE with clang for the BPF target and runs
# `bpftool gen skeleton`, exposing an INTERFACE library NAME_skel whose include directory holds
# NAME.skel.h (after libbpf-bootstrap's FindBpfObject).
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool REQUIRED PATHS /usr/sbin /usr/local/sbin)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(BPF_TARGET_ARCH arm64)
else()
  message(FATAL_ERROR "edleak-bpf: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

function(bpf_object name source)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}_skel)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  get_filename_component(src_abs ${source} ABSOLUTE)
  get_filename_component(src_dir ${src_abs} DIRECTORY)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${CMAKE_SOURCE_DIR}/vmlinux/${BPF_TARGET_ARCH} -I${src_dir}
            -c ${src_abs} -o ${obj}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${src_abs} ${ARG_DEPENDS}
    COMMENT "BPF ${name}: clang -target bpf + bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  target_include_directories(${name}_skel INTERFACE ${out_dir})
  add_dependencies(${name}_skel ${name}_skel_gen)
endfunction()
