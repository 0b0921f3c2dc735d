// glibc's allocator controls (malloc_trim), which Glibc's Swift module does not export.
#include <malloc.h>
