# Locate a PHP >= 8.2 with the embed SAPI and define the imported target
# php::embed. Two kinds are accepted:
#   - a thread-safe (ZTS) PHP, tools/build-php's (found in its cache when
#     PHP_CONFIG is not given): several executor threads per shard;
#   - Debian's own non-thread-safe (NTS) libphpX.Y-embed, with PHP_CONFIG
#     pointing at php-configX.Y (make build PHP=system): one executor per
#     shard process, Debian's packaged extensions and php.ini.
# TORUS_PHP_ZTS (ON/OFF) tells which one was found.

if(NOT PHP_CONFIG)
  set(_php_cache "$ENV{TORUS_PHP_CACHE}")
  if(NOT _php_cache)
    set(_php_cache "/var/cache/torus")
  endif()
  # php-<version>-zts-<hash> (tools/build-php), else php-<version>-zts (its older builds).
  file(GLOB _php_candidates "${_php_cache}/php-*-zts-*/bin/php-config")
  if(NOT _php_candidates)
    file(GLOB _php_candidates "${_php_cache}/php-*-zts/bin/php-config")
  endif()
  if(_php_candidates)
    list(SORT _php_candidates COMPARE NATURAL)
    list(GET _php_candidates -1 _php_found)
    set(PHP_CONFIG "${_php_found}" CACHE FILEPATH "" FORCE)
  else()
    message(FATAL_ERROR "No ZTS PHP found. Build one with tools/build-php (make build does it for you), "
                        "or pass -DPHP_CONFIG=/path/to/php-config of a ZTS PHP >= 8.2.")
  endif()
endif()
if(NOT EXISTS "${PHP_CONFIG}")
  message(FATAL_ERROR "PHP_CONFIG=${PHP_CONFIG} does not exist")
endif()

function(_php_config out)
  execute_process(COMMAND "${PHP_CONFIG}" ${ARGN} OUTPUT_VARIABLE _v OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${PHP_CONFIG} ${ARGN} failed")
  endif()
  set(${out} "${_v}" PARENT_SCOPE)
endfunction()

_php_config(PHP_PREFIX --prefix)
_php_config(PHP_VERSION_ID_STR --vernum)
_php_config(PHP_INCLUDE_DIR --include-dir)
_php_config(PHP_LDFLAGS --ldflags)
_php_config(PHP_LIBS --libs)
_php_config(PHP_EXTENSION_DIR --extension-dir)

if(PHP_VERSION_ID_STR LESS 80200)
  message(FATAL_ERROR "PHP ${PHP_VERSION_ID_STR} at ${PHP_CONFIG} is too old: Torus needs PHP >= 8.2")
endif()
file(STRINGS "${PHP_INCLUDE_DIR}/main/php_config.h" _php_zts REGEX "^#define ZTS 1")
if(_php_zts)
  set(TORUS_PHP_ZTS ON)
  set(_php_kind "ZTS")
else()
  set(TORUS_PHP_ZTS OFF)
  set(_php_kind "NTS: one executor per shard")
endif()

# libphp.a / libphp.so of a PHP built with --enable-embed, else Debian's
# libphpX.Y.so (package libphpX.Y-embed) beside the headers of phpX.Y-dev.
math(EXPR _php_major "${PHP_VERSION_ID_STR} / 10000")
math(EXPR _php_minor "(${PHP_VERSION_ID_STR} / 100) % 100")
set(PHP_STATIC OFF)
if(EXISTS "${PHP_PREFIX}/lib/libphp.a")
  set(PHP_LIBRARY "${PHP_PREFIX}/lib/libphp.a")
  set(PHP_STATIC ON)
elseif(EXISTS "${PHP_PREFIX}/lib/libphp.so")
  set(PHP_LIBRARY "${PHP_PREFIX}/lib/libphp.so")
elseif(EXISTS "${PHP_PREFIX}/lib/libphp${_php_major}.${_php_minor}.so")
  set(PHP_LIBRARY "${PHP_PREFIX}/lib/libphp${_php_major}.${_php_minor}.so")
else()
  message(FATAL_ERROR "No libphp.a, libphp.so or libphp${_php_major}.${_php_minor}.so under ${PHP_PREFIX}/lib: "
                      "the PHP at ${PHP_CONFIG} has no embed SAPI. Install Debian's "
                      "libphp${_php_major}.${_php_minor}-embed, or build a ZTS PHP with tools/build-php.")
endif()

separate_arguments(_php_libs UNIX_COMMAND "${PHP_LIBS}")
separate_arguments(_php_ldflags UNIX_COMMAND "${PHP_LDFLAGS}")
set(_php_includes ${PHP_INCLUDE_DIR} ${PHP_INCLUDE_DIR}/main ${PHP_INCLUDE_DIR}/TSRM
                  ${PHP_INCLUDE_DIR}/Zend ${PHP_INCLUDE_DIR}/ext ${PHP_INCLUDE_DIR}/sapi)

add_library(php::embed UNKNOWN IMPORTED)
set_target_properties(php::embed PROPERTIES IMPORTED_LOCATION "${PHP_LIBRARY}")
target_include_directories(php::embed SYSTEM INTERFACE ${_php_includes})
# intl is C++: a static libphp needs the C++ runtime.
set(_php_extra)
if(PHP_STATIC)
  set(_php_extra stdc++)
endif()
# A shared libphp brings its own dependencies (its DT_NEEDED); a static one
# needs php-config's list, which names -dev packages a shared one never needs.
if(PHP_STATIC)
  target_link_libraries(php::embed INTERFACE ${_php_ldflags} ${_php_libs} ${_php_extra} m dl)
else()
  target_link_libraries(php::embed INTERFACE m dl)
endif()
target_compile_definitions(php::embed INTERFACE TORUS_PHP_EXTENSION_DIR="${PHP_EXTENSION_DIR}")

message(STATUS "PHP ${PHP_VERSION_ID_STR} (${_php_kind}) from ${PHP_PREFIX}, library ${PHP_LIBRARY}")
