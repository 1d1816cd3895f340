# Doxygen input filter for include/gpu_executor.h (scripts/docs). cbindgen writes the doc
# comments of src/ffi/ as whole-line `//` comments (documentation_style = "c99"), which
# Doxygen takes for plain comments; as `///` they are its C++-style doc comments. A
# one-line `/* ... */` comment at the start of a line (the static inline helpers that
# cbindgen.toml adds) becomes `/** ... */`. Line numbers are unchanged.
s|^\([[:space:]]*\)// |\1/// |
s|^\([[:space:]]*\)//$|\1///|
s|^/\* \(.*\) \*/$|/** \1 */|
