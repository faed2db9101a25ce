/*
 * Stand-in for Windows' bcryptprimitives.dll, for running Rust programs under Wine 8.
 *
 * Rust's standard library (1.78 and later) gets its random bytes from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10 and later always have but Wine only provides from
 * version 9. Without it every Rust program fails to start under Wine 8 (status c0000135).
 * This DLL exports ProcessPrng on top of BCryptGenRandom, which Wine 8 does implement. It is
 * only copied into the Wine prefix the tests create (scripts/wine-run.sh); nothing ships it.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
