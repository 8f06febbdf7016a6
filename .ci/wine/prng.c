/*
 * bcryptprimitives.dll stub for Wine 8.0 (Debian 12), which lacks ProcessPrng:
 * Go >= 1.24's Windows runtime needs it to start ("bcryptprimitives.dll not
 * found"). It fills the buffer from advapi32's RtlGenRandom (SystemFunction036),
 * in chunks because RtlGenRandom takes a ULONG length. Never ship it: it exists
 * only so Windows test binaries run under Wine in CI (.ci/wine/run).
 *
 * x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll prng.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
