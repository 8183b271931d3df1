// glibc's allocator parameters (mallopt), which the Glibc module does not import.
#include <malloc.h>
