#ifndef TANDEM_ZLIB_SHIM_H
#define TANDEM_ZLIB_SHIM_H
#include <zlib.h>

/// deflateInit/inflateInit are macros in zlib.h; Swift cannot call macros, so wrap them.
static inline int tandem_deflateInit(z_streamp strm, int level) {
    return deflateInit(strm, level);
}
/// deflateInit with the window and hash sizes given (deflateInit2 is a macro too).
static inline int tandem_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}
static inline int tandem_inflateInit(z_streamp strm) {
    return inflateInit(strm);
}
#endif
