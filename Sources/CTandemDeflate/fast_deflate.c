// A small, fast deflate encoder for RPC messages (see tandem_deflate.h).
#include "tandem_deflate.h"
#include <pthread.h>
#include <string.h>
#include <zlib.h>

enum { MIN_MATCH = 4, MAX_MATCH = 258, MAX_DISTANCE = 32768, MAX_HASH_BITS = 13 };

// Huffman codes are sent most significant bit first, everything else least significant bit
// first: the fixed codes are kept bit-reversed, ready to be ORed into the bit buffer.
typedef struct {
    uint16_t code;
    uint8_t length;
} Code;

static Code literalCodes[288];
static Code distanceCodes[30];
static uint8_t lengthSymbol[MAX_MATCH + 1];   // length 3...258 -> symbol index 0...28
static uint8_t distanceSymbolLow[512];        // distance - 1 < 256 -> symbol; otherwise by (distance - 1) >> 7
static const uint16_t lengthBase[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t lengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t distanceBase[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t distanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static uint16_t reverse(uint16_t code, int length) {
    uint16_t reversed = 0;
    for (int bit = 0; bit < length; bit++) reversed |= (uint16_t)(((code >> bit) & 1) << (length - 1 - bit));
    return reversed;
}

static void buildTables(void) {
    for (int symbol = 0; symbol < 288; symbol++) {
        int code, length;
        if (symbol < 144) { code = 0x30 + symbol; length = 8; }
        else if (symbol < 256) { code = 0x190 + symbol - 144; length = 9; }
        else if (symbol < 280) { code = symbol - 256; length = 7; }
        else { code = 0xC0 + symbol - 280; length = 8; }
        literalCodes[symbol] = (Code){reverse((uint16_t)code, length), (uint8_t)length};
    }
    for (int symbol = 0; symbol < 30; symbol++) distanceCodes[symbol] = (Code){reverse((uint16_t)symbol, 5), 5};
    for (int symbol = 0; symbol < 29; symbol++) {
        int end = symbol == 28 ? MAX_MATCH : lengthBase[symbol + 1] - 1;  // 258 has a symbol of its own
        for (int length = lengthBase[symbol]; length <= end; length++) lengthSymbol[length] = (uint8_t)symbol;
    }
    // Distances 1...256 by (distance - 1), longer ones by (distance - 1) >> 7 (256 + index).
    for (int symbol = 0; symbol < 30; symbol++) {
        int last = symbol == 29 ? MAX_DISTANCE : distanceBase[symbol + 1] - 1;
        for (int distance = distanceBase[symbol]; distance <= last; distance++) {
            if (distance <= 256) distanceSymbolLow[distance - 1] = (uint8_t)symbol;
            else distanceSymbolLow[256 + ((distance - 1) >> 7)] = (uint8_t)symbol;
        }
    }
}

static pthread_once_t tablesOnce = PTHREAD_ONCE_INIT;

typedef struct {
    uint8_t *out;
    uint64_t bits;
    int count;
} BitWriter;

static inline void put(BitWriter *writer, uint64_t value, int length) {
    writer->bits |= value << writer->count;
    writer->count += length;
    if (writer->count >= 32) {
        // Little-endian: the low 32 bits go out first.
        uint32_t word = (uint32_t)writer->bits;
        writer->out[0] = (uint8_t)word;
        writer->out[1] = (uint8_t)(word >> 8);
        writer->out[2] = (uint8_t)(word >> 16);
        writer->out[3] = (uint8_t)(word >> 24);
        writer->out += 4;
        writer->bits >>= 32;
        writer->count -= 32;
    }
}

static inline uint32_t load32(const uint8_t *p) {
    uint32_t value;
    memcpy(&value, p, 4);
    return value;
}

static inline void putLiteral(BitWriter *writer, uint8_t byte) {
    Code code = literalCodes[byte];
    put(writer, code.code, code.length);
}

static inline void putMatch(BitWriter *writer, int length, int distance) {
    int symbol = lengthSymbol[length];
    Code code = literalCodes[257 + symbol];
    // Code (at most 8 bits) and extra bits (at most 5) together.
    put(writer, code.code | ((uint64_t)(length - lengthBase[symbol]) << code.length), code.length + lengthExtra[symbol]);
    int dsymbol = distance <= 256 ? distanceSymbolLow[distance - 1] : distanceSymbolLow[256 + ((distance - 1) >> 7)];
    Code dcode = distanceCodes[dsymbol];
    put(writer, dcode.code | ((uint64_t)(distance - distanceBase[dsymbol]) << 5), 5 + distanceExtra[dsymbol]);
}

size_t tandem_fast_zlib_bound(size_t size) {
    // Every byte a 9-bit literal at worst (a match never costs more than the literals it
    // replaces), plus the block header and end, the zlib header and trailer, and a flush word.
    return size + size / 8 + 16;
}

size_t tandem_fast_zlib(const uint8_t *input, size_t size, uint8_t *output, size_t capacity) {
    if (capacity < tandem_fast_zlib_bound(size)) return 0;
    pthread_once(&tablesOnce, buildTables);

    int windowBits = 8;
    while (windowBits < 15 && ((size_t)1 << windowBits) < size) windowBits++;
    size_t window = (size_t)1 << windowBits;
    unsigned header = (unsigned)((windowBits - 8) << 4 | 8) << 8;  // CMF, then FLG: FLEVEL 0 (fastest), no dictionary
    header += 31 - header % 31;
    output[0] = (uint8_t)(header >> 8);
    output[1] = (uint8_t)header;

    BitWriter writer = {output + 2, 0, 0};
    put(&writer, 1 | (1 << 1), 3);  // BFINAL, BTYPE 01 (fixed codes)

    int hashBits = 8;
    while (hashBits < MAX_HASH_BITS && ((size_t)1 << hashBits) < size) hashBits++;
    uint32_t table[1 << MAX_HASH_BITS];  // positions + 1 (0: empty)
    memset(table, 0, sizeof(uint32_t) << hashBits);

    size_t position = 0;
    if (size >= MIN_MATCH) {
        size_t last = size - MIN_MATCH;  // the last position a 4-byte sequence starts at
        while (position <= last) {
            uint32_t sequence = load32(input + position);
            uint32_t hash = (sequence * 2654435761u) >> (32 - hashBits);
            size_t candidate = table[hash];
            table[hash] = (uint32_t)(position + 1);
            if (candidate != 0 && position - (candidate - 1) <= window && position - (candidate - 1) <= MAX_DISTANCE &&
                load32(input + candidate - 1) == sequence) {
                const uint8_t *from = input + candidate - 1;
                size_t length = MIN_MATCH;
                size_t most = size - position < MAX_MATCH ? size - position : MAX_MATCH;
                while (length < most && from[length] == input[position + length]) length++;
                putMatch(&writer, (int)length, (int)(position - (candidate - 1)));
                // Remember the match's last sequence too, so that runs keep matching.
                if (position + length - 1 <= last) {
                    size_t inner = position + length - 1;
                    table[(load32(input + inner) * 2654435761u) >> (32 - hashBits)] = (uint32_t)(inner + 1);
                }
                position += length;
            } else {
                putLiteral(&writer, input[position]);
                position++;
            }
        }
    }
    for (; position < size; position++) putLiteral(&writer, input[position]);
    put(&writer, literalCodes[256].code, literalCodes[256].length);  // end of block
    while (writer.count > 0) {
        *writer.out++ = (uint8_t)writer.bits;
        writer.bits >>= 8;
        writer.count = writer.count > 8 ? writer.count - 8 : 0;
    }
    uint32_t checksum = (uint32_t)adler32(adler32(0L, Z_NULL, 0), input, (uInt)size);
    writer.out[0] = (uint8_t)(checksum >> 24);
    writer.out[1] = (uint8_t)(checksum >> 16);
    writer.out[2] = (uint8_t)(checksum >> 8);
    writer.out[3] = (uint8_t)checksum;
    return (size_t)(writer.out + 4 - output);
}
