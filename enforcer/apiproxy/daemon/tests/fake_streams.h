// A scripted stream for driving the body relay (relay_body.h) without sockets: each read returns
// the next scripted piece (cut to the buffer it is given; the rest comes with the next read), EOF
// after the last; each write is recorded with the buffers it was given. Used by
// relay_body_test.cc and the framing fuzz target.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <string>
#include <vector>

namespace eci::apiproxy::testing {

class ScriptedStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  explicit ScriptedStream(boost::asio::io_context& io) : ex_(io.get_executor()) {}
  executor_type get_executor() { return ex_; }

  std::vector<std::string> reads;  // what each read returns, in order (none empty)
  std::string written;             // everything written
  struct Write {
    size_t bytes = 0;
    std::vector<boost::asio::const_buffer> buffers;  // as given (pointers, sizes)
  };
  std::vector<Write> writes;
  size_t readCalls = 0;

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& bufs, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this, bufs](auto handler) {
          boost::system::error_code ec;
          size_t n = 0;
          ++readCalls;
          if (next_ == reads.size()) {
            ec = boost::asio::error::eof;
          } else {
            n = boost::asio::buffer_copy(bufs, boost::asio::buffer(reads[next_]) + offset_);
            offset_ += n;
            if (offset_ == reads[next_].size()) {
              ++next_;
              offset_ = 0;
            }
          }
          boost::asio::post(ex_, [h = std::move(handler), ec, n]() mutable { h(ec, n); });
        },
        token);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& bufs, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this, bufs](auto handler) {
          Write w;
          for (auto it = boost::asio::buffer_sequence_begin(bufs);
               it != boost::asio::buffer_sequence_end(bufs); ++it) {
            const boost::asio::const_buffer b = *it;
            w.buffers.push_back(b);
            w.bytes += b.size();
            written.append(static_cast<const char*>(b.data()), b.size());
          }
          const size_t n = w.bytes;
          writes.push_back(std::move(w));
          boost::asio::post(
              ex_, [h = std::move(handler), n]() mutable { h(boost::system::error_code{}, n); });
        },
        token);
  }

 private:
  executor_type ex_;
  size_t next_ = 0;
  size_t offset_ = 0;
};

}  // namespace eci::apiproxy::testing
