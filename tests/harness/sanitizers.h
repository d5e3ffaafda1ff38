// Whether this build runs under AddressSanitizer. Its allocator keeps its own statistics (mallinfo
// does not see them) and holds freed memory in quarantine, so heap and RSS measurements mean
// nothing there. GCC says -fsanitize=address with __SANITIZE_ADDRESS__, clang with __has_feature.
#pragma once

namespace berth::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace berth::testing
