// The worker's reads of a caller's memory (worker_env.h ProcessMemory), on this test's own
// process: a batch of strings must give exactly what reading them one by one gives, for strings
// that end right before an unmapped page, run past their first page, sit at a bad address, or
// follow one that does (process_vm_readv stops at the first faulting piece of a batch).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "../src/worker_env.h"

namespace eci::seccomp::worker {
namespace {

uint64_t addrOf(const void* p) {
  return reinterpret_cast<uint64_t>(p);
}

class ProcessMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Three pages; the third is unmapped, so the second ends at a hole.
    void* p = mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    base_ = static_cast<char*>(p);
    ASSERT_EQ(munmap(base_ + 2 * 4096, 4096), 0);
    hole_ = base_ + 2 * 4096;
  }
  void TearDown() override { munmap(base_, 2 * 4096); }

  // Every string of `reads` read both ways; the results must agree and are returned.
  std::vector<std::optional<std::string>> both(std::vector<std::pair<uint64_t, size_t>> in) {
    ProcessMemory mem(getpid());
    std::vector<std::optional<std::string>> batch(in.size()), single(in.size());
    std::vector<MemoryReader::StringRead> reads;
    for (size_t i = 0; i < in.size(); ++i) reads.push_back({in[i].first, in[i].second, &batch[i]});
    mem.readStrings(reads);
    for (size_t i = 0; i < in.size(); ++i) {
      single[i] = mem.readString(in[i].first, in[i].second);
      EXPECT_EQ(batch[i], single[i]) << "string " << i;
    }
    return batch;
  }

  char* base_ = nullptr;
  char* hole_ = nullptr;
};

TEST_F(ProcessMemoryTest, ABatchReadsEachStringAsReadStringDoes) {
  strcpy(base_, "none");
  strcpy(base_ + 100, "/tmp/m");
  strcpy(base_ + 200, "tmpfs");
  strcpy(base_ + 300, "size=1m,mode=0755");
  auto r = both({{addrOf(base_), 4096},
                 {addrOf(base_ + 100), 4096},
                 {addrOf(base_ + 200), 256},
                 {addrOf(base_ + 300), 4096}});
  EXPECT_EQ(r[0], "none");
  EXPECT_EQ(r[1], "/tmp/m");
  EXPECT_EQ(r[2], "tmpfs");
  EXPECT_EQ(r[3], "size=1m,mode=0755");
}

TEST_F(ProcessMemoryTest, AStringEndingAtAHoleAndOneRunningPastItsFirstPage) {
  // "abc\0" as the last bytes before the unmapped page: read whole, not a fault.
  char* atHole = hole_ - 4;
  memcpy(atHole, "abc", 4);
  // 5000 bytes from the first page into the second: longer than its first piece.
  char* lng = base_ + 3000;
  memset(lng, 'x', 5000);
  lng[5000] = '\0';
  auto r = both({{addrOf(atHole), 4096}, {addrOf(lng), 8192}});
  EXPECT_EQ(r[0], "abc");
  ASSERT_TRUE(r[1].has_value());
  EXPECT_EQ(r[1]->size(), 5000u);
}

TEST_F(ProcessMemoryTest, ABadPointerFailsAloneAndTheStringsAfterItAreStillRead) {
  strcpy(base_, "before");
  strcpy(base_ + 64, "after");
  auto r = both({{addrOf(base_), 4096}, {addrOf(hole_), 4096}, {addrOf(base_ + 64), 4096}});
  EXPECT_EQ(r[0], "before");
  EXPECT_FALSE(r[1].has_value());  // the caller's bad pointer stays one
  EXPECT_EQ(r[2], "after");        // read again on its own after the batch stopped at the hole
}

TEST_F(ProcessMemoryTest, NoNulWithinMaxIsNoString) {
  memset(base_, 'y', 300);
  auto r = both({{addrOf(base_), 256}, {addrOf(base_ + 100), 4096}});
  EXPECT_FALSE(r[0].has_value());  // the fstype bound: ENAMETOOLONG-like, never truncated
  ASSERT_TRUE(r[1].has_value());
  EXPECT_EQ(r[1]->size(), 200u);  // the rest of the 300 y bytes, then the zeroed page
}

}  // namespace
}  // namespace eci::seccomp::worker
