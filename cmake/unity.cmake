# Unity builds of the heavy targets (bench/RESULTS.md, "Build time"). Under ASan most of a
# file's compile time is code generation of the same weak template instantiations (Beast
# operations, Asio handlers, nlohmann::json, GoogleTest) that every file of a target makes
# again; a batch of files makes them once. CMake concatenates up to BATCH files per batch.
#
# Two files of one batch share a translation unit, so names in their anonymous namespaces
# must differ. A file that cannot share (it defines macros or file-local names on purpose)
# opts out with set_source_files_properties(f.cpp PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON).
#
# -DQMESH_UNITY_BUILD=OFF compiles file by file: an edit then rebuilds one file instead of
# its batch (the edit loop, or scripts/mutants.sh over many mutants of one target).
option(QMESH_UNITY_BUILD "Compile the heavy targets in unity batches" ON)

# qmesh_unity_build(<target> [BATCH <n>]): n files per batch, 8 unless given.
function(qmesh_unity_build target)
  cmake_parse_arguments(U "" "BATCH" "" ${ARGN})
  if(NOT QMESH_UNITY_BUILD)
    return()
  endif()
  if(NOT U_BATCH)
    set(U_BATCH 8)
  endif()
  set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${U_BATCH})
  # In a batch every .cpp is #included, so GCC takes a coroutine frame that holds a type from
  # the file's anonymous namespace for a header type with internal linkage and warns; the
  # names stay file-local exactly as in a file-by-file build.
  target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
endfunction()
