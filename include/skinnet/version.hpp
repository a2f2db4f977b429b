#pragma once
namespace skinnet {
inline constexpr const char* version() { return "0.1.0"; }
}  // namespace skinnet
