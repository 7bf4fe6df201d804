# layercrypt_cc_library(NAME name SRCS ... [DEPS ...] [PRIVATE_DEPS ...])
#
# One engine folder = one static library `layercrypt_<name>` with the alias
# `layercrypt::<name>`: an explicit source list (no globs, so a new file is
# a visible edit) and the folders it may call as PUBLIC DEPS (its headers
# include theirs). Which folder may depend on which is fixed in
# tools/check_include_directions.py; the include check in the test suite
# holds it, and these lists must agree with it (Tink's tink_cc_library,
# Abseil's absl_cc_library).
function(layercrypt_cc_library)
  cmake_parse_arguments(LC "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(_target layercrypt_${LC_NAME})
  add_library(${_target} STATIC ${LC_SRCS})
  add_library(layercrypt::${LC_NAME} ALIAS ${_target})
  target_include_directories(${_target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/layercrypt>)
  target_link_libraries(${_target} PUBLIC ${LC_DEPS}
                        PRIVATE $<BUILD_INTERFACE:layercrypt::internal::flags> ${LC_PRIVATE_DEPS})
  set_target_properties(${_target} PROPERTIES EXPORT_NAME ${LC_NAME})
  install(TARGETS ${_target} EXPORT layercryptTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  target_compile_definitions(${_target} PRIVATE LAYERCRYPT_VERSION="${PROJECT_VERSION}")
endfunction()
