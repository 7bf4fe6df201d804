# Warnings, hardening and the one sanitizer switch.
add_library(layercrypt_flags INTERFACE)
add_library(layercrypt::internal::flags ALIAS layercrypt_flags)
target_compile_options(layercrypt_flags INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wformat=2 -Wvla)
# Sized operator delete (used by the wiping allocators) is on by default in
# GCC's C++20 but not in clang 14's.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(layercrypt_flags INTERFACE -fsized-deallocation)
endif()

if(LAYERCRYPT_HARDENING)
  target_compile_options(layercrypt_flags INTERFACE
    -fstack-protector-strong -fstack-clash-protection -fcf-protection=full)
  if(NOT LAYERCRYPT_SANITIZER)
    target_compile_definitions(layercrypt_flags INTERFACE
      $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
  endif()
  target_link_options(layercrypt_flags INTERFACE -Wl,-z,relro,-z,now)
endif()

if(LAYERCRYPT_SANITIZER)
  set(_lc_known address undefined thread)
  foreach(_s IN LISTS LAYERCRYPT_SANITIZER)
    if(NOT _s IN_LIST _lc_known)
      message(FATAL_ERROR "LAYERCRYPT_SANITIZER: unknown sanitizer '${_s}' "
                          "(use address, undefined or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST LAYERCRYPT_SANITIZER AND "address" IN_LIST LAYERCRYPT_SANITIZER)
    message(FATAL_ERROR "LAYERCRYPT_SANITIZER: thread and address cannot be combined")
  endif()
  list(JOIN LAYERCRYPT_SANITIZER "," _lc_san)
  add_compile_options(-fsanitize=${_lc_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_lc_san})
  add_feature_info(sanitizer ON "-fsanitize=${_lc_san}")
endif()

# Fuzzer builds put coverage instrumentation in every target, so libFuzzer
# is guided by the engine's and the kernels' branches and not only by the fuzz
# target's; the fuzz targets themselves link libFuzzer (tests/CMakeLists.txt).
if(LAYERCRYPT_BUILD_FUZZERS AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()

if(LAYERCRYPT_SAFE_DATA)
  target_compile_definitions(layercrypt_flags INTERFACE LAYERCRYPT_SAFE_DATA=1)
endif()
