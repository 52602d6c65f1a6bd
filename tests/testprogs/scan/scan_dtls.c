// A library loaded with dlopen: its __thread variable lives in dynamic TLS (a block glibc
// allocates on the first access, found through the thread's DTV).
static __thread void* dynamic_slot;

void scan_dtls_keep(void* p) { dynamic_slot = p; }
void* scan_dtls_get(void) { return dynamic_slot; }
