#ifndef TANDEM_DEFLATE_H
#define TANDEM_DEFLATE_H
#include <stddef.h>
#include <stdint.h>

/// The most `tandem_fast_zlib` writes for `size` input bytes.
size_t tandem_fast_zlib_bound(size_t size);

/// Compresses `size` bytes at `input` into `output` in the zlib format (RFC 1950: a 2-byte header,
/// one deflate block with the fixed Huffman codes of RFC 1951, an Adler-32 trailer), which any
/// inflate reads. Matches are found with one look-up per position in a hash table of 4-byte
/// sequences (no chains, no lazy matching): a few times faster than zlib's fastest level on
/// messages of a few kilobytes, for somewhat larger output. The header names the smallest window
/// that holds the input (256 bytes to 32 KiB). Returns the bytes written, or 0 when `capacity` is
/// less than `tandem_fast_zlib_bound(size)`.
size_t tandem_fast_zlib(const uint8_t *input, size_t size, uint8_t *output, size_t capacity);

#endif
