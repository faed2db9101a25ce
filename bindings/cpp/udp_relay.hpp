// udp_relay.hpp -- header-only C++17 wrapper over the udp-relay C API (include/udp_relay.h).
//
// What it adds to the C API, and nothing more:
//   - RAII handles: `Relay` (relay_start / relay_stop), `Client` (relay_client_connect /
//     relay_client_close) and `Handshake` (relay_handshake_new / relay_handshake_free).
//     Move-only; the destructor releases the handle; a moved-from object is empty and its
//     destructor does nothing.
//   - `Status` (code + the library's message, captured on failure) and `Result<T>` (a value
//     or a Status), so it works with -fno-exceptions and -fno-rtti: nothing here throws.
//   - Config builders, `Guid`, `Address`, `Event` helpers and `ByteView`/`MutableByteView`
//     (pointer + size; std::span is C++20).
//   - `measureRelays` and `nearest` (picking a relay), `Client::rejoin` and
//     `Handshake::rejoin` (following the game to another relay).
//
// Allocation: the per-packet and per-tick calls (`Client::send/recv/poll`, `Relay::poll`,
// `Relay::events()`, every `Handshake` call) never allocate on success or on
// RELAY_STATUS_WOULD_BLOCK. A failed call may allocate to keep the error message.
//
// Threading: a handle's calls are serialised by the library; drive each object from one
// thread (the game or network thread). A Status's message is read from `relay_last_error()`
// right after the failing call, on the calling thread.
//
// Build: add `include/` and `bindings/cpp/` to the include path and link the udp_relay
// library (libudp_relay.so / .a, udp_relay.dll.lib, libudp_relay.dylib).
#ifndef UDP_RELAY_HPP
#define UDP_RELAY_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "udp_relay.h"

namespace udp_relay {

// ---------------------------------------------------------------------------------------
// Status and Result
// ---------------------------------------------------------------------------------------

// The outcome of a call: a `RelayStatus` code and, on failure, the library's message for it
// (copied from `relay_last_error()` at failure time, so it stays valid). RELAY_STATUS_OK and
// RELAY_STATUS_WOULD_BLOCK ("nothing to receive right now") carry no message and never
// allocate.
class Status {
public:
    // Success.
    Status() noexcept = default;

    // `code` with a message of the caller's (used for errors the wrapper detects itself).
    Status(RelayStatus code, std::string message) : code_(code), message_(std::move(message)) {}

    // Wraps what a `relay_*` call returned: any negative value is an error whose message is
    // taken from `relay_last_error()`, so call this right after the failing call.
    static Status fromLastCall(int32_t result) {
        if (result >= 0) return Status();
        const auto code = static_cast<RelayStatus>(result);
        if (code == RELAY_STATUS_WOULD_BLOCK) return Status(code, std::string());
        return Status(code, std::string(relay_last_error()));
    }

    bool ok() const noexcept { return code_ == RELAY_STATUS_OK; }
    explicit operator bool() const noexcept { return ok(); }
    RelayStatus code() const noexcept { return code_; }
    bool is(RelayStatus code) const noexcept { return code_ == code; }
    bool wouldBlock() const noexcept { return code_ == RELAY_STATUS_WOULD_BLOCK; }

    // The library's message ("" on success). Owned by this Status.
    const std::string &message() const noexcept { return message_; }

    // A static name for the code, e.g. "address in use". Never null.
    const char *name() const noexcept { return relay_status_str(code_); }

    // "name: message", or just the name when there is no message.
    std::string toString() const {
        std::string text(name());
        if (!message_.empty()) {
            text += ": ";
            text += message_;
        }
        return text;
    }

    // The code as a std::error_code of `category()`.
    std::error_code errorCode() const noexcept;

private:
    RelayStatus code_ = RELAY_STATUS_OK;
    std::string message_;
};

// std::error_code integration: values are `RelayStatus` codes, messages their static names.
class StatusCategory final : public std::error_category {
public:
    const char *name() const noexcept override { return "udp_relay"; }
    std::string message(int code) const override { return relay_status_str(code); }
};

inline const std::error_category &category() noexcept {
    static const StatusCategory instance;
    return instance;
}

inline std::error_code Status::errorCode() const noexcept {
    return std::error_code(static_cast<int>(code_), category());
}

// A value or the Status of why there is none; an expected-like type usable without
// exceptions. `value()`, `*` and `->` require `has_value()`: calling them on an error is a
// programming error and aborts the process (there is no exception to throw).
template <class T>
class Result {
public:
    Result(T value) : value_(std::move(value)) {}
    // An error. Passing a successful Status is a programming error: it becomes
    // RELAY_STATUS_PANIC so `has_value()` and `status().ok()` never disagree.
    Result(Status status) : status_(std::move(status)) {
        if (status_.ok()) status_ = Status(RELAY_STATUS_PANIC, "Result built from an OK Status");
    }

    bool has_value() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return has_value(); }

    // RELAY_STATUS_OK when there is a value.
    const Status &status() const noexcept { return status_; }

    T &value() & { return checked(); }
    const T &value() const & { return const_cast<Result *>(this)->checked(); }
    T &&value() && { return std::move(checked()); }
    T &operator*() & { return checked(); }
    const T &operator*() const & { return const_cast<Result *>(this)->checked(); }
    T *operator->() { return &checked(); }
    const T *operator->() const { return &const_cast<Result *>(this)->checked(); }

    template <class U>
    T value_or(U &&fallback) const & {
        return has_value() ? *value_ : static_cast<T>(std::forward<U>(fallback));
    }

private:
    T &checked() {
        if (!value_.has_value()) std::abort();
        return *value_;
    }

    Status status_;
    std::optional<T> value_;
};

class ByteView;
class MutableByteView;

namespace detail {

// Status for calls made on an empty (moved-from, closed or never started) wrapper.
inline Status emptyHandle(const char *what) {
    return Status(RELAY_STATUS_INVALID_HANDLE,
                  std::string(what) + " is empty (moved from, closed, or never started)");
}

template <class C>
using element_t = std::remove_pointer_t<decltype(std::data(std::declval<C &>()))>;

template <class C>
constexpr bool is_view_v = std::is_same_v<std::remove_cv_t<C>, ByteView> ||
                           std::is_same_v<std::remove_cv_t<C>, MutableByteView>;

// Containers with data()/size() over trivially copyable 1-byte elements: std::vector<uint8_t>,
// std::array<char, N>, std::string, std::string_view, C arrays...
template <class C>
using if_byte_container_t =
    std::enable_if_t<!is_view_v<C> && sizeof(element_t<C>) == 1 &&
                         std::is_trivially_copyable_v<element_t<C>>,
                     int>;

template <class C>
using if_mutable_byte_container_t = std::enable_if_t<
    !is_view_v<C> && sizeof(element_t<C>) == 1 && std::is_trivially_copyable_v<element_t<C>> &&
        !std::is_const_v<element_t<C>>,
    int>;

} // namespace detail

// ---------------------------------------------------------------------------------------
// Buffer views
// ---------------------------------------------------------------------------------------

// Read-only bytes: a pointer and a size, borrowed. The viewed memory must outlive the view.
class ByteView {
public:
    constexpr ByteView() noexcept = default;
    constexpr ByteView(const uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    ByteView(const void *data, std::size_t size) noexcept
        : data_(static_cast<const uint8_t *>(data)), size_(size) {}
    // Any contiguous container of bytes (vector, array, string, string_view, C array).
    template <class C, detail::if_byte_container_t<const C> = 0>
    ByteView(const C &container) noexcept
        : data_(reinterpret_cast<const uint8_t *>(std::data(container))),
          size_(std::size(container)) {}

    constexpr const uint8_t *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const uint8_t *begin() const noexcept { return data_; }
    constexpr const uint8_t *end() const noexcept { return data_ + size_; }
    constexpr uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }
    // The first `count` bytes (clamped to size()).
    constexpr ByteView first(std::size_t count) const noexcept {
        return ByteView(data_, count < size_ ? count : size_);
    }
    std::string_view asString() const noexcept {
        return std::string_view(reinterpret_cast<const char *>(data_), size_);
    }
    bool operator==(ByteView other) const noexcept {
        return size_ == other.size_ && (size_ == 0 || std::memcmp(data_, other.data_, size_) == 0);
    }
    bool operator!=(ByteView other) const noexcept { return !(*this == other); }

private:
    const uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

// Writable bytes: a pointer and a capacity, borrowed. The memory must outlive the view.
class MutableByteView {
public:
    constexpr MutableByteView() noexcept = default;
    constexpr MutableByteView(uint8_t *data, std::size_t size) noexcept : data_(data), size_(size) {}
    MutableByteView(void *data, std::size_t size) noexcept
        : data_(static_cast<uint8_t *>(data)), size_(size) {}
    // Any non-const contiguous container of bytes (vector, array, std::string, C array).
    // Its current size() is the capacity offered: resize a vector first.
    template <class C, detail::if_mutable_byte_container_t<C> = 0>
    MutableByteView(C &container) noexcept
        : data_(reinterpret_cast<uint8_t *>(std::data(container))), size_(std::size(container)) {}

    constexpr uint8_t *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr uint8_t *begin() const noexcept { return data_; }
    constexpr uint8_t *end() const noexcept { return data_ + size_; }
    constexpr uint8_t &operator[](std::size_t i) const noexcept { return data_[i]; }
    // The first `count` bytes (clamped to size()), e.g. what a receive filled in.
    constexpr ByteView first(std::size_t count) const noexcept {
        return ByteView(data_, count < size_ ? count : size_);
    }

private:
    uint8_t *data_ = nullptr;
    std::size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------

enum class ClientState : int32_t {
    Handshaking = RELAY_CLIENT_STATE_HANDSHAKING,
    Established = RELAY_CLIENT_STATE_ESTABLISHED,
    TimedOut = RELAY_CLIENT_STATE_TIMED_OUT,
    Closed = RELAY_CLIENT_STATE_CLOSED,
    // Was established, then nothing arrived for the peer timeout: the relay or the peer is
    // gone. Final until `Client::rejoin` / `Handshake::rejoin` with a new ticket.
    Lost = RELAY_CLIENT_STATE_LOST,
};

inline const char *toString(ClientState state) noexcept {
    switch (state) {
    case ClientState::Handshaking: return "handshaking";
    case ClientState::Established: return "established";
    case ClientState::TimedOut: return "timed out";
    case ClientState::Closed: return "closed";
    case ClientState::Lost: return "lost";
    }
    return "unknown";
}

enum class EventKind : uint32_t {
    ChannelAllocated = RELAY_EVENT_KIND_CHANNEL_ALLOCATED,
    ChannelEstablished = RELAY_EVENT_KIND_CHANNEL_ESTABLISHED,
    ChannelClosed = RELAY_EVENT_KIND_CHANNEL_CLOSED,
    Drained = RELAY_EVENT_KIND_DRAINED,
};

enum class CloseReason : uint32_t {
    None = RELAY_CLOSE_REASON_NONE,
    Expired = RELAY_CLOSE_REASON_EXPIRED,
    PeerMoved = RELAY_CLOSE_REASON_PEER_MOVED,
};

enum class DatagramKind : uint32_t {
    Data = RELAY_DATAGRAM_KIND_DATA,
    Handshake = RELAY_DATAGRAM_KIND_HANDSHAKE,
    Discarded = RELAY_DATAGRAM_KIND_DISCARDED,
};

// What a relay said of itself in its reply to a probe (`Measurement::state`).
enum class ProbeState : uint32_t {
    Accepting = RELAY_PROBE_STATE_ACCEPTING,
    Draining = RELAY_PROBE_STATE_DRAINING,
    Full = RELAY_PROBE_STATE_FULL,
};

enum class LogLevel : uint32_t {
    Off = RELAY_LOG_LEVEL_OFF,
    Error = RELAY_LOG_LEVEL_ERROR,
    Warn = RELAY_LOG_LEVEL_WARN,
    Info = RELAY_LOG_LEVEL_INFO,
    Debug = RELAY_LOG_LEVEL_DEBUG,
    Trace = RELAY_LOG_LEVEL_TRACE,
};

// ---------------------------------------------------------------------------------------
// Guid and Address
// ---------------------------------------------------------------------------------------

// A 128-bit channel GUID (a value type over `RelayGuid`).
class Guid {
public:
    constexpr Guid() noexcept = default;
    constexpr Guid(uint64_t hi, uint64_t lo) noexcept : raw_{hi, lo} {}
    constexpr explicit Guid(const RelayGuid &raw) noexcept : raw_(raw) {}

    // A new random GUID from the operating system's random source (never zero).
    static Result<Guid> generate() {
        Guid guid;
        const RelayStatus rc = relay_guid_new(&guid.raw_);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return guid;
    }

    // Parses the `8-4-4-4-12` hex form, either case, optionally in braces. No allocation on
    // success.
    static Result<Guid> parse(std::string_view text) {
        char buf[64];
        if (text.size() >= sizeof buf)
            return Status(RELAY_STATUS_INVALID_ARGUMENT,
                          "GUID text is " + std::to_string(text.size()) +
                              " characters long; a GUID has 36 (38 in braces)");
        std::memcpy(buf, text.data(), text.size());
        buf[text.size()] = '\0';
        Guid guid;
        const RelayStatus rc = relay_guid_parse(buf, &guid.raw_);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return guid;
    }

    // Writes the lowercase `8-4-4-4-12` text and its NUL into `out`; no allocation.
    void format(char (&out)[RELAY_GUID_STRING_SIZE]) const noexcept {
        if (relay_guid_format(&raw_, out, sizeof out) < 0) out[0] = '\0';
    }

    std::string toString() const {
        char text[RELAY_GUID_STRING_SIZE];
        format(text);
        return std::string(text);
    }

    constexpr bool isZero() const noexcept { return raw_.hi == 0 && raw_.lo == 0; }
    constexpr uint64_t hi() const noexcept { return raw_.hi; }
    constexpr uint64_t lo() const noexcept { return raw_.lo; }
    constexpr const RelayGuid &raw() const noexcept { return raw_; }

    friend constexpr bool operator==(const Guid &a, const Guid &b) noexcept {
        return a.raw_.hi == b.raw_.hi && a.raw_.lo == b.raw_.lo;
    }
    friend constexpr bool operator!=(const Guid &a, const Guid &b) noexcept { return !(a == b); }

private:
    RelayGuid raw_{0, 0};
};

// A peer's IPv4/IPv6 address and port, as events report it.
class Address {
public:
    // Bytes `format` needs at most.
    static constexpr std::size_t kTextSize = 64;

    constexpr Address() noexcept : raw_{0, 0, 0, {}} {}
    constexpr explicit Address(const RelayAddress &raw) noexcept : raw_(raw) {}

    // 0 (none), 4 or 6.
    constexpr int family() const noexcept { return raw_.family; }
    constexpr uint16_t port() const noexcept { return raw_.port; }
    constexpr bool empty() const noexcept { return raw_.family == 0; }
    constexpr const RelayAddress &raw() const noexcept { return raw_; }

    // Writes "1.2.3.4:5678" or "[::1]:5678" and a NUL into `out` ("" when empty); no
    // allocation. Returns the text length.
    std::size_t format(char (&out)[kTextSize]) const noexcept {
        const int32_t n = relay_address_format(&raw_, out, sizeof out);
        if (n < 0) {
            out[0] = '\0';
            return 0;
        }
        return static_cast<std::size_t>(n);
    }

    std::string toString() const {
        char text[kTextSize];
        const std::size_t n = format(text);
        return std::string(text, n);
    }

private:
    RelayAddress raw_;
};

// ---------------------------------------------------------------------------------------
// Relay
// ---------------------------------------------------------------------------------------

using Stats = RelayStats;
using ChannelCounters = RelayChannelCounters;

// One relay event (a value type over `RelayEvent`). Fields a kind does not use are zero.
class Event {
public:
    Event() noexcept : raw_() {}
    explicit Event(const RelayEvent &raw) noexcept : raw_(raw) {}

    EventKind kind() const noexcept { return static_cast<EventKind>(raw_.kind); }
    Guid guid() const noexcept { return Guid(raw_.guid); }
    // The peer that allocated the channel.
    Address peerA() const noexcept { return Address(raw_.peer_a); }
    // The peer that joined it (established and closed events).
    Address peerB() const noexcept { return Address(raw_.peer_b); }
    // Close events only.
    CloseReason closeReason() const noexcept { return static_cast<CloseReason>(raw_.close_reason); }
    const ChannelCounters &counters() const noexcept { return raw_.counters; }
    uint64_t lifetimeMs() const noexcept { return raw_.lifetime_ms; }
    const RelayEvent &raw() const noexcept { return raw_; }
    RelayEvent &raw() noexcept { return raw_; }

    // "allocated", "established", "closed", "drained".
    const char *kindName() const noexcept {
        switch (kind()) {
        case EventKind::ChannelAllocated: return "allocated";
        case EventKind::ChannelEstablished: return "established";
        case EventKind::ChannelClosed: return "closed";
        case EventKind::Drained: return "drained";
        }
        return "unknown";
    }

private:
    RelayEvent raw_;
};

// Builds a `RelayConfig`, starting from `relay_config_default()`. Owns copies of the strings
// and key it is given, so it may be reused and must outlive only the `Relay::start` call.
class RelayConfigBuilder {
public:
    RelayConfigBuilder() noexcept { relay_config_default(&config_); }

    // 0 picks an ephemeral port (see `Relay::localPort`). Default 6060.
    RelayConfigBuilder &port(uint16_t value) noexcept { config_.port = value; return *this; }
    // IP address to bind, e.g. "0.0.0.0", "127.0.0.1", "::1". Default: dual-stack "::".
    RelayConfigBuilder &bindAddress(std::string value) {
        bindAddress_ = std::move(value);
        hasBindAddress_ = true;
        return *this;
    }
    // Raw key bytes for the handshake HMAC (copied). Empty: handshakes are not checked.
    RelayConfigBuilder &secretKey(ByteView key) {
        secretKey_.assign(key.begin(), key.end());
        return *this;
    }
    RelayConfigBuilder &inactivityTimeoutMs(uint32_t value) noexcept {
        config_.inactivity_timeout_ms = value;
        return *this;
    }
    RelayConfigBuilder &maxChannels(uint32_t value) noexcept { config_.max_channels = value; return *this; }
    RelayConfigBuilder &recvBufferBytes(uint32_t value) noexcept {
        config_.recv_buffer_bytes = value;
        return *this;
    }
    RelayConfigBuilder &sendBufferBytes(uint32_t value) noexcept {
        config_.send_buffer_bytes = value;
        return *this;
    }
    RelayConfigBuilder &maxDatagramsPerPoll(uint32_t value) noexcept {
        config_.max_datagrams_per_poll = value;
        return *this;
    }
    RelayConfigBuilder &maxPendingEvents(uint32_t value) noexcept {
        config_.max_pending_events = value;
        return *this;
    }
    // Per-source and per-channel limits and seat tokens: see SECURITY.md.
    RelayConfigBuilder &handshakeRatePerSource(uint32_t perSecond, uint32_t burst) noexcept {
        config_.handshake_rate_per_source = perSecond;
        config_.handshake_burst_per_source = burst;
        return *this;
    }
    RelayConfigBuilder &maxPendingPerSource(uint32_t value) noexcept {
        config_.max_pending_per_source = value;
        return *this;
    }
    RelayConfigBuilder &maxTrackedSources(uint32_t value) noexcept {
        config_.max_tracked_sources = value;
        return *this;
    }
    RelayConfigBuilder &channelBandwidthBytesPerSec(uint32_t value) noexcept {
        config_.channel_bandwidth_bytes_per_sec = value;
        return *this;
    }
    RelayConfigBuilder &requireTokens(bool value) noexcept {
        config_.require_tokens = value ? 1u : 0u;
        return *this;
    }
    // Plain handshakes too must echo the relay's return-path cookie (token handshakes always
    // must); v0.8 clients other than this library's are then refused.
    RelayConfigBuilder &requireReturnPath(bool value) noexcept {
        config_.require_return_path = value ? 1u : 0u;
        return *this;
    }
    // Fleets (see SECURITY.md, relay binding and rotation). This relay's id: it admits v2
    // tokens (`mintTokenForRelay`) for this id only; 0 (the default) is none.
    RelayConfigBuilder &relayId(uint32_t value) noexcept {
        config_.relay_id = value;
        return *this;
    }
    // The id of `secretKey`, which v2 tokens name.
    RelayConfigBuilder &keyId(uint32_t value) noexcept {
        config_.key_id = value;
        return *this;
    }
    // During a key rotation, the key `secretKey` replaces (copied) and its id: tokens and
    // handshakes made with it stay admitted. An empty key: no rotation.
    RelayConfigBuilder &previousKey(ByteView key, uint32_t id) {
        previousKey_.assign(key.begin(), key.end());
        config_.previous_key_id = id;
        return *this;
    }
    // Refuse v1 tokens (valid on every relay holding the key); needs a key and a relay id.
    RelayConfigBuilder &requireTokenV2(bool value) noexcept {
        config_.require_token_v2 = value ? 1u : 0u;
        return *this;
    }
    // Microseconds `Relay::poll` with a timeout lets datagrams gather after a call that found
    // the socket nearly empty: fewer wake-ups at game rates, for up to this much more latency
    // per pass through the relay. `poll(0)` never waits. Default 0; 0 to 5000.
    RelayConfigBuilder &coalesceWindowUs(uint32_t value) noexcept {
        config_.coalesce_window_us = value;
        return *this;
    }

    // The C config, pointing into this builder: valid while the builder lives unchanged.
    RelayConfig native() const noexcept {
        RelayConfig config = config_;
        config.bind_address = hasBindAddress_ ? bindAddress_.c_str() : nullptr;
        config.secret_key = secretKey_.empty() ? nullptr : secretKey_.data();
        config.secret_key_len = secretKey_.size();
        config.previous_secret_key = previousKey_.empty() ? nullptr : previousKey_.data();
        config.previous_secret_key_len = previousKey_.size();
        return config;
    }

private:
    RelayConfig config_;
    std::string bindAddress_;
    bool hasBindAddress_ = false;
    std::vector<uint8_t> secretKey_;
    std::vector<uint8_t> previousKey_;
};

class Relay;

// Input range over the relay's queued events, taken one by one with `relay_next_event`:
//   for (const udp_relay::Event &event : relay.events()) { ... }
//   if (!range.status()) { /* the queue could not be read */ }
// Borrow the relay for the loop only. No allocation.
class EventRange {
public:
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = Event;
        using difference_type = std::ptrdiff_t;
        using pointer = const Event *;
        using reference = const Event &;

        iterator() noexcept = default;
        reference operator*() const noexcept { return range_->current_; }
        pointer operator->() const noexcept { return &range_->current_; }
        iterator &operator++() {
            if (!range_->advance()) range_ = nullptr;
            return *this;
        }
        bool operator==(const iterator &other) const noexcept { return range_ == other.range_; }
        bool operator!=(const iterator &other) const noexcept { return range_ != other.range_; }

    private:
        friend class EventRange;
        explicit iterator(EventRange *range) noexcept : range_(range) {}
        EventRange *range_ = nullptr;
    };

    iterator begin() { return advance() ? iterator(this) : iterator(); }
    iterator end() noexcept { return iterator(); }

    // OK, or why reading the queue failed (the loop then ended early).
    const Status &status() const noexcept { return status_; }

private:
    friend class Relay;
    explicit EventRange(RelayHandle *handle) noexcept : handle_(handle) {}

    bool advance() {
        if (handle_ == nullptr) {
            if (status_.ok()) status_ = detail::emptyHandle("udp_relay::Relay");
            return false;
        }
        const int32_t rc = relay_next_event(handle_, &current_.raw(), sizeof(RelayEvent));
        if (rc == 1) return true;
        if (rc < 0) status_ = Status::fromLastCall(rc);
        handle_ = nullptr;
        return false;
    }

    RelayHandle *handle_;
    Event current_;
    Status status_;
};

// An embedded relay that owns its UDP socket. Tick it with `poll()` and drain `events()`
// from one thread (the game or network thread). Move-only; the destructor stops it.
class Relay {
public:
    // Empty: every call but `stop()` reports RELAY_STATUS_INVALID_HANDLE.
    Relay() noexcept = default;
    Relay(const Relay &) = delete;
    Relay &operator=(const Relay &) = delete;
    Relay(Relay &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Relay &operator=(Relay &&other) noexcept {
        if (this != &other) {
            stop();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Relay() { stop(); }

    // Binds a relay as `config` says. Errors: RELAY_STATUS_INVALID_ADDRESS,
    // RELAY_STATUS_ADDRESS_IN_USE, RELAY_STATUS_INVALID_ARGUMENT, RELAY_STATUS_IO...
    static Result<Relay> start(const RelayConfigBuilder &config) {
        const RelayConfig native = config.native();
        return start(native);
    }
    static Result<Relay> start(const RelayConfig &config) {
        RelayHandle *handle = nullptr;
        const RelayStatus rc = relay_start(&config, &handle);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return Relay(handle);
    }

    // Takes ownership of a handle from `relay_start`.
    static Relay adopt(RelayHandle *handle) noexcept { return Relay(handle); }

    // Closes the socket and frees the relay; the object becomes empty. Harmless when empty.
    Status stop() noexcept {
        RelayHandle *handle = std::exchange(handle_, nullptr);
        if (handle == nullptr) return Status();
        return Status::fromLastCall(relay_stop(handle));
    }

    // Waits at most `timeoutMs` (0: do not wait), relays what is pending and expires idle
    // channels. Returns the number of datagrams handled. No allocation on success.
    Result<uint32_t> poll(uint32_t timeoutMs = 0) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Relay");
        const int32_t n = relay_poll(handle_, timeoutMs);
        if (n < 0) return Status::fromLastCall(n);
        return static_cast<uint32_t>(n);
    }

    // The queued events, oldest first (see EventRange). Drain them every tick.
    EventRange events() noexcept { return EventRange(handle_); }

    // Takes the oldest event into `out`: true if there was one, false if the queue is empty
    // or on error (then `status`, if given, says why).
    bool nextEvent(Event &out, Status *status = nullptr) {
        if (handle_ == nullptr) {
            if (status) *status = detail::emptyHandle("udp_relay::Relay");
            return false;
        }
        const int32_t rc = relay_next_event(handle_, &out.raw(), sizeof(RelayEvent));
        if (rc < 0 && status) *status = Status::fromLastCall(rc);
        return rc == 1;
    }

    // Stops accepting new channels; an EventKind::Drained event follows when the last
    // channel closes.
    Status drain() {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Relay");
        return Status::fromLastCall(relay_drain(handle_));
    }

    Result<Stats> stats() const {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Relay");
        Stats out{};
        const RelayStatus rc = relay_get_stats(handle_, &out, sizeof out);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return out;
    }

    // Counters of the open channel `guid`; RELAY_STATUS_INVALID_ARGUMENT if none is open.
    Result<ChannelCounters> channel(const Guid &guid) const {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Relay");
        ChannelCounters out{};
        const RelayStatus rc = relay_get_channel(handle_, &guid.raw(), &out);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return out;
    }

    // The bound UDP port (useful with port 0), or 0 when empty.
    uint16_t localPort() const noexcept { return handle_ ? relay_local_port(handle_) : 0; }

    bool valid() const noexcept { return handle_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    // The C handle, still owned by this object.
    RelayHandle *native() const noexcept { return handle_; }
    // Gives up ownership: the caller must pass the handle to `relay_stop`.
    RelayHandle *release() noexcept { return std::exchange(handle_, nullptr); }

private:
    explicit Relay(RelayHandle *handle) noexcept : handle_(handle) {}
    RelayHandle *handle_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

// Builds a `RelayClientConfig`, starting from `relay_client_config_default()`. Owns copies
// of the strings and key it is given; must outlive only the `connect`/`create` call.
class ClientConfigBuilder {
public:
    ClientConfigBuilder() noexcept { relay_client_config_default(&config_); }

    // "host:port", "1.2.3.4:port" or "[v6]:port". Required by `Client::connect`.
    ClientConfigBuilder &relayAddress(std::string value) {
        relayAddress_ = std::move(value);
        hasRelayAddress_ = true;
        return *this;
    }
    // The channel GUID agreed with the peer. Required unless a token is set (then it may
    // stay zero: the token's GUID is used); must not be zero otherwise.
    ClientConfigBuilder &guid(const Guid &value) noexcept { config_.guid = value.raw(); return *this; }
    // The relay's raw secret key bytes (copied). Empty for an unkeyed relay, and for a token
    // holder (it never needs the relay's secret).
    ClientConfigBuilder &secretKey(ByteView key) {
        secretKey_.assign(key.begin(), key.end());
        return *this;
    }
    // The seat token the matchmaker minted for this peer (`mintToken`, RELAY_TOKEN_LEN
    // bytes, or `mintTokenForRelay`, RELAY_TOKEN_V2_LEN; copied), for a relay that requires
    // tokens. Every handshake and keep-alive then
    // carries it; `Handshake::poll` needs RELAY_MAX_HANDSHAKE_LEN bytes. Empty: no token.
    ClientConfigBuilder &token(ByteView value) {
        token_.assign(value.begin(), value.end());
        return *this;
    }
    ClientConfigBuilder &retryIntervalMs(uint32_t value) noexcept {
        config_.retry_interval_ms = value;
        return *this;
    }
    ClientConfigBuilder &retryBackoffMaxMs(uint32_t value) noexcept {
        config_.retry_backoff_max_ms = value;
        return *this;
    }
    ClientConfigBuilder &handshakeTimeoutMs(uint32_t value) noexcept {
        config_.handshake_timeout_ms = value;
        return *this;
    }
    // 0 disables keep-alives; keep it well inside the relay's inactivity timeout.
    ClientConfigBuilder &keepaliveIntervalMs(uint32_t value) noexcept {
        config_.keepalive_interval_ms = value;
        return *this;
    }
    // Once established, give up (ClientState::Lost, RELAY_STATUS_PEER_LOST) after this many
    // milliseconds without receiving anything from the relay: it restarted, or the peer is
    // gone. Both peers should keep keep-alives on, and this must be longer than the
    // keep-alive interval (two to three intervals). 0 (the default) never gives up.
    ClientConfigBuilder &peerTimeoutMs(uint32_t value) noexcept {
        config_.peer_timeout_ms = value;
        return *this;
    }
    ClientConfigBuilder &maxQueuedDatagrams(uint32_t value) noexcept {
        config_.max_queued_datagrams = value;
        return *this;
    }
    ClientConfigBuilder &recvBufferBytes(uint32_t value) noexcept {
        config_.recv_buffer_bytes = value;
        return *this;
    }
    ClientConfigBuilder &sendBufferBytes(uint32_t value) noexcept {
        config_.send_buffer_bytes = value;
        return *this;
    }

    // The C config, pointing into this builder: valid while the builder lives unchanged.
    RelayClientConfig native() const noexcept {
        RelayClientConfig config = config_;
        config.relay_address = hasRelayAddress_ ? relayAddress_.c_str() : nullptr;
        config.secret_key = secretKey_.empty() ? nullptr : secretKey_.data();
        config.secret_key_len = secretKey_.size();
        config.token = token_.empty() ? nullptr : token_.data();
        config.token_len = token_.size();
        return config;
    }

private:
    RelayClientConfig config_;
    std::string relayAddress_;
    bool hasRelayAddress_ = false;
    std::vector<uint8_t> secretKey_;
    std::vector<uint8_t> token_;
};

// A peer that joins a channel through a relay with its own (library-owned) UDP socket.
// Call `poll()` every frame; once `state()` is Established, `send()` and `recv()` datagrams.
// Drive it from one thread. Move-only; the destructor closes it.
class Client {
public:
    Client() noexcept = default;
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    Client(Client &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            close();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Client() { close(); }

    // Opens a socket and sends the first handshake. Errors: RELAY_STATUS_INVALID_ARGUMENT
    // (zero GUID, inconsistent timing, a token of the wrong size or for another GUID), RELAY_STATUS_INVALID_ADDRESS (relay address does not
    // resolve), RELAY_STATUS_NULL_ARGUMENT (no relay address), RELAY_STATUS_IO.
    static Result<Client> connect(const ClientConfigBuilder &config) {
        const RelayClientConfig native = config.native();
        return connect(native);
    }
    static Result<Client> connect(const RelayClientConfig &config) {
        RelayClient *handle = nullptr;
        const RelayStatus rc = relay_client_connect(&config, &handle);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return Client(handle);
    }

    static Client adopt(RelayClient *handle) noexcept { return Client(handle); }

    // Closes the socket; queued datagrams are dropped; the object becomes empty. Harmless
    // when empty.
    Status close() noexcept {
        RelayClient *handle = std::exchange(handle_, nullptr);
        if (handle == nullptr) return Status();
        return Status::fromLastCall(relay_client_close(handle));
    }

    // Receives, sends due handshakes/keep-alives, waits at most `timeoutMs`. Returns the
    // number of datagrams ready for `recv`. RELAY_STATUS_TIMED_OUT once the handshake timed
    // out, RELAY_STATUS_PEER_LOST once the established channel went silent for the peer
    // timeout (both final: close and connect again). No allocation on success.
    Result<uint32_t> poll(uint32_t timeoutMs = 0) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Client");
        const int32_t n = relay_client_poll(handle_, timeoutMs);
        if (n < 0) return Status::fromLastCall(n);
        return static_cast<uint32_t>(n);
    }

    // Closed when empty.
    ClientState state() const noexcept {
        if (handle_ == nullptr) return ClientState::Closed;
        const int32_t s = relay_client_state(handle_);
        return s > 0 ? static_cast<ClientState>(s) : ClientState::Closed;
    }
    bool established() const noexcept { return state() == ClientState::Established; }

    // Sends one datagram to the peer (at most RELAY_MAX_DATAGRAM bytes). Errors:
    // RELAY_STATUS_NOT_ESTABLISHED, RELAY_STATUS_WOULD_BLOCK (socket buffer full: retry after
    // the next poll), RELAY_STATUS_TIMED_OUT, RELAY_STATUS_PEER_LOST... No allocation on
    // success or would-block.
    Status send(ByteView datagram) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Client");
        return Status::fromLastCall(relay_client_send(handle_, datagram.data(), datagram.size()));
    }

    // Moves the oldest datagram from the peer into `buffer` and returns its size.
    // RELAY_STATUS_WOULD_BLOCK when nothing is queued (no message, no allocation);
    // RELAY_STATUS_BUFFER_TOO_SMALL leaves the datagram queued (RELAY_MAX_DATAGRAM bytes
    // always suffice).
    Result<std::size_t> recv(MutableByteView buffer) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Client");
        std::size_t len = 0;
        const RelayStatus rc = relay_client_recv(handle_, buffer.data(), buffer.size(), &len);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return len;
    }

    // The local UDP port, or 0 when empty.
    uint16_t localPort() const noexcept { return handle_ ? relay_client_local_port(handle_) : 0; }

    // Joins another channel, usually through another relay, on the same socket (same local
    // port) and handle: when the relay was lost (ClientState::Lost, RELAY_STATUS_PEER_LOST) or
    // is draining, pass the matchmaker's new ticket. Works in any state; the handshake starts
    // over (ClientState::Handshaking; `send` is RELAY_STATUS_NOT_ESTABLISHED until the new
    // channel is up), keeping the key, timing, counters and queued datagrams. With a token,
    // a zero `guid` means the token's. Errors (the client is left as it was):
    // RELAY_STATUS_INVALID_ARGUMENT (zero GUID without a token, a bad token, a GUID other
    // than the token's), RELAY_STATUS_INVALID_ADDRESS (does not resolve, or IPv6 from an IPv4
    // socket).
    Status rejoin(const std::string &relayAddress, const Guid &guid, ByteView token = ByteView()) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Client");
        return Status::fromLastCall(relay_client_rejoin(handle_, relayAddress.c_str(), &guid.raw(),
                                                        token.data(), token.size()));
    }

    bool valid() const noexcept { return handle_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    RelayClient *native() const noexcept { return handle_; }
    // Gives up ownership: the caller must pass the handle to `relay_client_close`.
    RelayClient *release() noexcept { return std::exchange(handle_, nullptr); }

private:
    explicit Client(RelayClient *handle) noexcept : handle_(handle) {}
    RelayClient *handle_ = nullptr;
};

// The handshake state machine for a peer whose engine owns the UDP socket. Every tick:
//   1. pass each datagram from the relay's address to `receive()`; only DatagramKind::Data
//      is game data;
//   2. call `poll()` and send what it wrote (if anything) to the relay;
//   3. call `onDataSent()` whenever the game sent data (postpones keep-alives).
// Drive it from one thread. Move-only; the destructor frees it. No call allocates on success.
class Handshake {
public:
    Handshake() noexcept = default;
    Handshake(const Handshake &) = delete;
    Handshake &operator=(const Handshake &) = delete;
    Handshake(Handshake &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    Handshake &operator=(Handshake &&other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~Handshake() { reset(); }

    // Uses the config's GUID, key, token and timing; the relay address and sizes are ignored.
    static Result<Handshake> create(const ClientConfigBuilder &config) {
        const RelayClientConfig native = config.native();
        return create(native);
    }
    static Result<Handshake> create(const RelayClientConfig &config) {
        RelayHandshake *handle = nullptr;
        const RelayStatus rc = relay_handshake_new(&config, &handle);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return Handshake(handle);
    }

    // Frees the machine; the object becomes empty. Harmless when empty.
    Status reset() noexcept {
        RelayHandshake *handle = std::exchange(handle_, nullptr);
        if (handle == nullptr) return Status();
        return Status::fromLastCall(relay_handshake_free(handle));
    }

    // Writes a due handshake into `out` and returns its length, or 0 when nothing is due.
    // `out` needs RELAY_HANDSHAKE_LEN bytes, or RELAY_TOKEN_HANDSHAKE_LEN with a token
    // (RELAY_MAX_HANDSHAKE_LEN always fits); shorter gives RELAY_STATUS_BUFFER_TOO_SMALL and
    // the handshake stays due. RELAY_STATUS_TIMED_OUT once the channel was not established
    // in time, RELAY_STATUS_PEER_LOST once it went silent for the peer timeout (both final).
    Result<std::size_t> poll(MutableByteView out) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Handshake");
        const int32_t n = relay_handshake_poll(handle_, out.data(), out.size());
        if (n < 0) return Status::fromLastCall(n);
        return static_cast<std::size_t>(n);
    }

    // Classifies one datagram received from the relay's address.
    Result<DatagramKind> receive(ByteView datagram) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Handshake");
        const int32_t kind = relay_handshake_receive(handle_, datagram.data(), datagram.size());
        if (kind < 0) return Status::fromLastCall(kind);
        return static_cast<DatagramKind>(kind);
    }

    // Starts over for another channel (`Client::rejoin`'s rules) with the matchmaker's new
    // ticket: from now on send to the new relay, and pass `receive` only what comes from
    // there. The first handshake is due at once.
    Status rejoin(const Guid &guid, ByteView token = ByteView()) {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Handshake");
        return Status::fromLastCall(
            relay_handshake_rejoin(handle_, &guid.raw(), token.data(), token.size()));
    }

    // Tells the machine the game just sent a datagram to the peer.
    Status onDataSent() {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Handshake");
        return Status::fromLastCall(relay_handshake_on_data_sent(handle_));
    }

    // Milliseconds until `poll()` has something to do (0: now; UINT32_MAX: never).
    Result<uint32_t> nextTimeoutMs() const {
        if (handle_ == nullptr) return detail::emptyHandle("udp_relay::Handshake");
        uint32_t ms = 0;
        const RelayStatus rc = relay_handshake_next_timeout(handle_, &ms);
        if (rc != RELAY_STATUS_OK) return Status::fromLastCall(rc);
        return ms;
    }

    // Closed when empty.
    ClientState state() const noexcept {
        if (handle_ == nullptr) return ClientState::Closed;
        const int32_t s = relay_handshake_state(handle_);
        return s > 0 ? static_cast<ClientState>(s) : ClientState::Closed;
    }
    bool established() const noexcept { return state() == ClientState::Established; }

    bool valid() const noexcept { return handle_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    RelayHandshake *native() const noexcept { return handle_; }
    // Gives up ownership: the caller must pass the handle to `relay_handshake_free`.
    RelayHandshake *release() noexcept { return std::exchange(handle_, nullptr); }

private:
    explicit Handshake(RelayHandshake *handle) noexcept : handle_(handle) {}
    RelayHandshake *handle_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// Picking a relay
// ---------------------------------------------------------------------------------------

// One relay's result from `measureRelays` (a value type over `RelayMeasurement`).
class Measurement {
public:
    Measurement() noexcept : raw_{} {}
    explicit Measurement(const RelayMeasurement &raw) noexcept : raw_(raw) {}

    // RELAY_STATUS_OK when the relay answered, RELAY_STATUS_TIMED_OUT when it did not within
    // the timeout, RELAY_STATUS_INVALID_ADDRESS when its text did not resolve.
    RelayStatus status() const noexcept { return static_cast<RelayStatus>(raw_.status); }
    bool answered() const noexcept { return raw_.status == RELAY_STATUS_OK; }
    // Answered and accepting new channels: a relay to join.
    bool accepting() const noexcept { return answered() && state() == ProbeState::Accepting; }
    ProbeState state() const noexcept { return static_cast<ProbeState>(raw_.state); }
    // Median round-trip time in microseconds (0 unless answered).
    uint32_t rttUs() const noexcept { return raw_.rtt_us; }
    uint32_t probesSent() const noexcept { return raw_.probes_sent; }
    uint32_t replies() const noexcept { return raw_.replies; }
    // What the text resolved to (empty when it did not).
    Address address() const noexcept { return Address(raw_.address); }
    const RelayMeasurement &raw() const noexcept { return raw_; }

private:
    RelayMeasurement raw_;
};

// Times each relay ("host:port", "1.2.3.4:port", "[v6]:port") with up to `attempts` probes
// and returns one Measurement per relay, in the same order. Blocks: names are resolved, then
// at most `timeoutMs` pass (exactly that long when a relay does not answer). Call it from a
// worker thread or at a loading screen. The probes leave from a socket of the call's own, so
// it works while a Client is in a channel. Errors: RELAY_STATUS_INVALID_ARGUMENT (attempts
// 1 to RELAY_MAX_MEASURE_ATTEMPTS, timeout 1 to RELAY_MAX_MEASURE_TIMEOUT_MS, at most
// RELAY_MAX_MEASURED_RELAYS relays), RELAY_STATUS_IO.
inline Result<std::vector<Measurement>> measureRelays(const std::vector<std::string> &relays,
                                                      uint32_t attempts, uint32_t timeoutMs) {
    std::vector<const char *> texts;
    texts.reserve(relays.size());
    for (const std::string &relay : relays) texts.push_back(relay.c_str());
    std::vector<RelayMeasurement> raw(relays.size());
    const int32_t n = relay_measure(texts.data(), texts.size(), attempts, timeoutMs, raw.data(),
                                    raw.size());
    if (n < 0) return Status::fromLastCall(n);
    std::vector<Measurement> out;
    out.reserve(raw.size());
    for (const RelayMeasurement &m : raw) out.emplace_back(m);
    return out;
}

// The index of the relay to join: the lowest round trip among those accepting new channels,
// or -1 when none does.
inline std::ptrdiff_t nearest(const std::vector<Measurement> &measurements) noexcept {
    std::ptrdiff_t best = -1;
    for (std::size_t i = 0; i < measurements.size(); i++) {
        if (!measurements[i].accepting()) continue;
        if (best < 0 || measurements[i].rttUs() < measurements[static_cast<std::size_t>(best)].rttUs())
            best = static_cast<std::ptrdiff_t>(i);
    }
    return best;
}

// ---------------------------------------------------------------------------------------
// Free functions
// ---------------------------------------------------------------------------------------

// The key v0.8.2 relays and clients use when none is configured (RELAY_V08_DEFAULT_KEY), for
// either builder's `secretKey`. Public, so it authenticates nothing: it only makes handshakes
// acceptable to a v0.8.2 relay run with its defaults.
inline constexpr uint8_t kV08DefaultKey[RELAY_V08_DEFAULT_KEY_LEN] = RELAY_V08_DEFAULT_KEY;

// Writes the v0.8 handshake for `guid` (keyed when `secretKey` is not empty) into `out` and
// returns its length (RELAY_HANDSHAKE_LEN).
inline Result<std::size_t> writeHandshake(MutableByteView out, const Guid &guid,
                                          ByteView secretKey = ByteView()) {
    const int32_t n = relay_handshake_write(out.data(), out.size(), &guid.raw(),
                                            secretKey.data(), secretKey.size());
    if (n < 0) return Status::fromLastCall(n);
    return static_cast<std::size_t>(n);
}

// OK if `datagram` is a valid handshake for `guid` (HMAC checked when `secretKey` is not
// empty), else RELAY_STATUS_INVALID_HANDSHAKE with the reason.
inline Status parseHandshake(ByteView datagram, const Guid &guid, ByteView secretKey = ByteView()) {
    return Status::fromLastCall(relay_handshake_parse(datagram.data(), datagram.size(), &guid.raw(),
                                                      secretKey.data(), secretKey.size()));
}

// A v1 seat token as `relay_token_mint` writes it.
using Token = std::array<uint8_t, RELAY_TOKEN_LEN>;
// A v2 (relay-bound) seat token as `relay_token_mint_for_relay` writes it.
using TokenV2 = std::array<uint8_t, RELAY_TOKEN_V2_LEN>;

// Which seat of a channel a token is for.
enum class TokenRole : uint32_t { A = RELAY_TOKEN_ROLE_A, B = RELAY_TOKEN_ROLE_B };

// Matchmaker side: mints the token of seat `role` of channel `guid` with the relay's secret,
// valid while the relay's clock is before `expiryUnixSecs` (keep it short: the match length
// plus a margin). Hand it to that peer only, over an authenticated, encrypted channel; the
// peer passes it to `ClientConfigBuilder::token`. Errors: RELAY_STATUS_INVALID_ARGUMENT
// (empty secret, zero GUID).
inline Result<Token> mintToken(ByteView relaySecret, const Guid &guid, TokenRole role,
                               uint64_t expiryUnixSecs) {
    Token token{};
    const int32_t n = relay_token_mint(relaySecret.data(), relaySecret.size(), &guid.raw(),
                                       static_cast<uint32_t>(role), expiryUnixSecs, token.data(),
                                       token.size());
    if (n < 0) return Status::fromLastCall(n);
    return token;
}

// Matchmaker side, for a fleet: mints the v2 token of seat `role` of channel `guid`, valid
// only on the relay whose `relayId` it names (1 or more; the first of `rank`), while that
// relay holds `key` under `keyId` (its current key, or its previous one during a rotation).
// Errors: RELAY_STATUS_INVALID_ARGUMENT (empty key, zero GUID, relay id 0).
inline Result<TokenV2> mintTokenForRelay(ByteView key, uint32_t keyId, uint32_t relayId,
                                         const Guid &guid, TokenRole role,
                                         uint64_t expiryUnixSecs) {
    TokenV2 token{};
    const int32_t n = relay_token_mint_for_relay(key.data(), key.size(), keyId, relayId,
                                                 &guid.raw(), static_cast<uint32_t>(role),
                                                 expiryUnixSecs, token.data(), token.size());
    if (n < 0) return Status::fromLastCall(n);
    return token;
}

// One relay to rank: its id (1 or more, unique) and its weight (its capacity, say).
using RankEntry = RelayRankEntry;

// The relays' ids, best first for channel `guid` (rendezvous hashing weighted by capacity):
// every matchmaker ranking the same relays, listed in any order, gets the same ranking; a
// relay leaving moves only the channels that ranked it first. Errors:
// RELAY_STATUS_INVALID_ARGUMENT (a relay id of 0 or twice).
inline Result<std::vector<uint32_t>> rank(const Guid &guid, const std::vector<RankEntry> &relays) {
    std::vector<uint32_t> order(relays.size());
    uint32_t none = 0;
    const int32_t n = relay_rank(&guid.raw(), relays.data(), relays.size(),
                                 order.empty() ? &none : order.data(), order.size());
    if (n < 0) return Status::fromLastCall(n);
    order.resize(static_cast<std::size_t>(n));
    return order;
}

// Writes a handshake carrying `token` (v1 or v2) with `sequence` into `out` (at least
// RELAY_TOKEN_HANDSHAKE_LEN bytes, RELAY_TOKEN_V2_HANDSHAKE_LEN for v2) and returns its length. Only for engines that write
// handshakes themselves: `Client` and `Handshake` do it, with a fresh growing sequence, when
// the config has a token. `sequence` must grow with every handshake sent with the token.
inline Result<std::size_t> writeHandshakeWithToken(MutableByteView out, ByteView token,
                                                   uint64_t sequence) {
    const int32_t n = relay_handshake_write_with_token(token.data(), token.size(), sequence,
                                                       out.data(), out.size());
    if (n < 0) return Status::fromLastCall(n);
    return static_cast<std::size_t>(n);
}

// Routes the library's log records at `maxLevel` and more severe to `callback` (process-wide;
// replaces any earlier one; nullptr turns logging off). The callback runs on the thread that
// made the logging `relay_*` call, must not call other `relay_*` functions and must not
// throw. `userData` must stay valid until the next call.
inline Status setLogCallback(RelayLogCallback callback, void *userData = nullptr,
                             LogLevel maxLevel = LogLevel::Info) {
    return Status::fromLastCall(
        relay_set_log_callback(callback, userData, static_cast<uint32_t>(maxLevel)));
}

// The library's version string, e.g. "0.1.0".
inline const char *libraryVersion() noexcept { return relay_version(); }

// True when the loaded library speaks the ABI of the header this code was compiled with.
inline bool abiCompatible() noexcept { return relay_abi_version() == RELAY_ABI_VERSION; }

} // namespace udp_relay

#endif // UDP_RELAY_HPP
