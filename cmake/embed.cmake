# Turns a file into a C string, so a text that is edited as what it is (the
# HTML page of /status, net/admin_status_page.html) is compiled into the
# binary without being hand-escaped into C. Run at build time:
#
#   cmake -DINPUT=page.html -DOUTPUT=page.c -DSYMBOL=name -DHEADER=net/x.h -P cmake/embed.cmake
#
# writes OUTPUT defining `const char SYMBOL[]` (the bytes, NUL-terminated) and
# `const size_t SYMBOL_size` (their count without the NUL), including HEADER,
# which declares both, so the compiler checks the types. Every byte is written
# as a \xNN escape (an escape ends at the next backslash, so no byte can run
# into the next), 32 bytes per line.
foreach(var INPUT OUTPUT SYMBOL HEADER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed.cmake: -D${var}=... is missing")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
# 32 bytes (128 characters) per line, each line its own literal.
string(REGEX REPLACE "(................................................................................................................................)"
       "\\1\"\n    \"" escaped "${escaped}")
get_filename_component(input_name "${INPUT}" NAME)
file(WRITE "${OUTPUT}.tmp"
     "/* Generated from ${input_name} by cmake/embed.cmake at build time: edit that file. */\n"
     "#include \"${HEADER}\"\n\n"
     "const char ${SYMBOL}[] =\n    \"${escaped}\";\n\n"
     "const size_t ${SYMBOL}_size = ${size};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
