#include <qrencode.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/// A growing buffer libpng writes into.
typedef struct {
    unsigned char *bytes;
    size_t count;
    size_t capacity;
    int failed;
} sls_png_buffer;

static inline void sls_png_append(png_structp png, png_bytep data, png_size_t length) {
    sls_png_buffer *buffer = (sls_png_buffer *)png_get_io_ptr(png);
    if (buffer->failed) return;
    if (buffer->count + length > buffer->capacity) {
        size_t capacity = (buffer->capacity + length) * 2;
        unsigned char *grown = (unsigned char *)realloc(buffer->bytes, capacity);
        if (grown == NULL) { buffer->failed = 1; return; }
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->count, data, length);
    buffer->count += length;
}

static inline void sls_png_flush(png_structp png) { (void)png; }

/// Encodes `modules` (a `width` x `width` QR matrix from libqrencode: bit 0 of each byte is a dark
/// module) as a black-on-white 1-bit grey PNG, `scale` pixels per module and `margin` modules of
/// quiet zone. Returns a malloc'd buffer in *out (free it) and its length, or 0 on failure.
/// libpng reports errors by longjmp, which Swift cannot survive: it stays inside this function.
static inline size_t sls_qr_png(const unsigned char *modules, int width, int scale, int margin,
                                unsigned char **out) {
    *out = NULL;
    if (width <= 0 || scale <= 0 || margin < 0 || width > 177 || scale > 64 || margin > 16) return 0;
    int size = (width + 2 * margin) * scale;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (png == NULL) return 0;
    png_infop info = png_create_info_struct(png);
    sls_png_buffer buffer = {NULL, 0, 0, 0};
    unsigned char *row = (unsigned char *)malloc((size_t)(size + 7) / 8);
    if (info == NULL || row == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(buffer.bytes);
        free(row);
        return 0;
    }
    png_set_write_fn(png, &buffer, sls_png_append, sls_png_flush);
    png_set_IHDR(png, info, (png_uint_32)size, (png_uint_32)size, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < size; y++) {
        memset(row, 0xFF, (size_t)(size + 7) / 8);
        int my = y / scale - margin;
        for (int x = 0; x < size; x++) {
            int mx = x / scale - margin;
            if (mx >= 0 && my >= 0 && mx < width && my < width && (modules[my * width + mx] & 1)) {
                row[x / 8] &= (unsigned char)~(0x80 >> (x % 8));
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(row);
    if (buffer.failed) { free(buffer.bytes); return 0; }
    *out = buffer.bytes;
    return buffer.count;
}
