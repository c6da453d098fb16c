# Turns the file IN into a C source OUT defining pc_default_config[] (NUL-terminated) and its
# length, so the binary carries its default configuration without reading any file.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n\t"
	bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from config/default.toml by cmake/embed.cmake. */\n"
	"#include <stddef.h>\n"
	"extern const char pc_default_config[];\n"
	"extern const size_t pc_default_config_len;\n"
	"const char pc_default_config[] = {\n\t${bytes}0x00};\n"
	"const size_t pc_default_config_len = ${len};\n")
