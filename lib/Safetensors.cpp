//===- Safetensors.cpp - safetensors reader, checkpoint index, writer -----===//
//
// File layout: 8-byte little-endian header length N, N bytes of JSON, then the
// data area. Each tensor's `data_offsets` [begin, end) are relative to the
// first byte after the header.
//
//===----------------------------------------------------------------------===//
#include "birkhoff/Safetensors.h"

#include "birkhoff/FileSafety.h"
#include "birkhoff/JsonInput.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace birkhoff {

static_assert(std::endian::native == std::endian::little,
              "safetensors and the header length are little-endian");

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Names come from the file: a megabyte-long one is shown cut short.
std::string quote(const std::string &s) {
  return "'" + truncateForMessage(s, 4 * kJsonSnippetChars) + "'";
}

std::string errnoText(int err) { return std::strerror(err); }

// Product of `shape` times `elemBytes`, or nullopt on a negative dimension
// (reported separately) or on uint64 overflow.
std::optional<uint64_t> byteSizeOf(const std::vector<int64_t> &shape,
                                   uint64_t elemBytes) {
  uint64_t total = elemBytes;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(total, uint64_t(d), &total))
      return std::nullopt;
  }
  return total;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Parses one tensor entry of a header. `dataSize` is the number of bytes the
// file holds after the header; `dataStart` is the file offset of that area.
Expected<TensorInfo> parseTensorEntry(const std::string &path,
                                      const std::string &name, const json &v,
                                      uint64_t dataStart, uint64_t dataSize) {
  auto bad = [&](const std::string &what) {
    return corrupt(path + ": tensor " + quote(name) + ": " + what);
  };
  if (!v.is_object())
    return bad("header entry is not a JSON object");
  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string())
    return bad("missing string field 'dtype'");
  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array())
    return bad("missing array field 'shape'");
  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array())
    return bad("missing array field 'data_offsets'");

  TensorInfo info;
  info.name = name;
  info.file = path;
  const std::string &dtypeText = dt->get_ref<const std::string &>();
  std::optional<DType> dtype = parseSafetensorsDType(dtypeText);
  if (!dtype)
    return unsupported(path + ": tensor " + quote(name) +
                       ": unsupported dtype " + quote(dtypeText));
  info.dtype = *dtype;

  for (const json &d : *sh) {
    if (!d.is_number_integer())
      return bad("shape entry " + jsonSnippet(d) + " is not an integer");
    if (d.is_number_unsigned()) {
      if (d.get<uint64_t>() > uint64_t(INT64_MAX))
        return bad("shape entry " + jsonSnippet(d) + " is too large");
      info.shape.push_back(int64_t(d.get<uint64_t>()));
    } else {
      int64_t dim = d.get<int64_t>();
      if (dim < 0)
        return bad("negative dimension " + std::to_string(dim) + " in shape");
      info.shape.push_back(dim);
    }
  }

  if (off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    return bad("'data_offsets' must be two non-negative integers, got " +
               jsonSnippet(*off));
  uint64_t begin = (*off)[0].get<uint64_t>();
  uint64_t end = (*off)[1].get<uint64_t>();
  if (end < begin)
    return bad("data_offsets end " + std::to_string(end) + " is before begin " +
               std::to_string(begin));
  if (end > dataSize)
    return bad("truncated shard: data ends at byte " +
               std::to_string(dataStart + end) + " but the file has only " +
               std::to_string(dataStart + dataSize) + " bytes");

  std::optional<uint64_t> expected =
      byteSizeOf(info.shape, uint64_t(dtypeStorageBytes(info.dtype)));
  if (!expected)
    return bad("byte size of shape " + shapeText(info.shape) +
               " overflows 64 bits");
  if (*expected != end - begin)
    return bad("data_offsets span " + std::to_string(end - begin) +
               " bytes but " + dtypeText + " " + shapeText(info.shape) +
               " needs " + std::to_string(*expected));
  info.dataOffset = dataStart + begin;
  info.byteSize = end - begin;
  return info;
}

// Rejects two tensors whose byte ranges share a byte. Empty tensors own no
// bytes and cannot overlap anything.
Status checkNoOverlap(const std::string &path,
                      const std::map<std::string, TensorInfo> &tensors) {
  std::vector<const TensorInfo *> byOffset;
  for (const auto &[name, info] : tensors)
    if (info.byteSize > 0)
      byOffset.push_back(&info);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->dataOffset < b->dataOffset;
            });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    const TensorInfo &prev = *byOffset[i - 1], &cur = *byOffset[i];
    if (cur.dataOffset < prev.dataOffset + prev.byteSize)
      return corrupt(path + ": tensors " + quote(prev.name) + " and " +
                     quote(cur.name) + " have overlapping data ranges");
  }
  return Status::ok();
}

} // namespace

//===----------------------------------------------------------------------===//
// MappedFile
//===----------------------------------------------------------------------===//

Expected<MappedFile> MappedFile::open(const std::string &path) {
  uint64_t size = 0;
  BK_ASSIGN_OR_RETURN(UniqueFd fd, openInputFile(path, &size));
  MappedFile file;
  file.path_ = path;
  file.size_ = size;
  // mmap rejects length 0; an empty file simply has no data pointer.
  if (file.size_ > 0) {
    void *p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED)
      return ioError("cannot map " + path + ": " + errnoText(errno));
    file.data_ = static_cast<const uint8_t *>(p);
  }
  return file; // the mapping keeps the file alive after fd closes
}

MappedFile::MappedFile(MappedFile &&other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)), path_(std::move(other.path_)) {}

MappedFile &MappedFile::operator=(MappedFile &&other) noexcept {
  if (this != &other) {
    if (data_)
      ::munmap(const_cast<uint8_t *>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_)
    ::munmap(const_cast<uint8_t *>(data_), size_);
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

Expected<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
  BK_ASSIGN_OR_RETURN(MappedFile map, MappedFile::open(path));
  const uint64_t size = map.size();
  if (size < 8)
    return corrupt(path + ": file is " + std::to_string(size) +
                   " bytes, shorter than the 8-byte header length");
  uint64_t headerLen;
  std::memcpy(&headerLen, map.data(), 8);
  if (headerLen > size - 8)
    return corrupt(path + ": header length " + std::to_string(headerLen) +
                   " exceeds the " + std::to_string(size - 8) +
                   " bytes after the length field");

  std::string_view headerText(reinterpret_cast<const char *>(map.data()) + 8,
                              headerLen);
  // A tensor named twice would otherwise be "the last one wins".
  JsonParseOptions limits;
  limits.rejectDuplicateKeys = true;
  Expected<json> header = parseJsonInput(headerText, path + ": header", limits);
  if (!header)
    return header.status();
  if (!header->is_object())
    return corrupt(path + ": header is not a JSON object");

  SafetensorsFile file;
  file.path_ = path;
  const uint64_t dataStart = 8 + headerLen;
  const uint64_t dataSize = size - dataStart;
  for (const auto &[key, value] : header->items()) {
    if (key == "__metadata__") {
      if (!value.is_object())
        return corrupt(path + ": '__metadata__' is not a JSON object");
      for (const auto &[mkey, mval] : value.items()) {
        if (!mval.is_string())
          return corrupt(path + ": '__metadata__' entry " + quote(mkey) +
                         " is not a string");
        file.metadata_[mkey] = mval.get<std::string>();
      }
      continue;
    }
    BK_ASSIGN_OR_RETURN(TensorInfo info, parseTensorEntry(path, key, value,
                                                          dataStart, dataSize));
    file.tensors_.emplace(key, std::move(info));
  }
  BK_RETURN_IF_ERROR(checkNoOverlap(path, file.tensors_));
  file.map_ = std::make_shared<MappedFile>(std::move(map));
  return file;
}

Expected<std::span<const uint8_t>>
SafetensorsFile::bytes(const std::string &name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end())
    return notFound(path_ + ": no tensor " + quote(name));
  return std::span<const uint8_t>(map_->data() + it->second.dataOffset,
                                  it->second.byteSize);
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

namespace {

constexpr const char *kIndexName = "model.safetensors.index.json";
constexpr const char *kSingleName = "model.safetensors";

// Reads the index's weight_map: tensor name -> shard file name.
Expected<std::map<std::string, std::string>>
readWeightMap(const std::string &indexPath) {
  BK_ASSIGN_OR_RETURN(std::string text, readInputFile(indexPath));
  JsonParseOptions limits;
  limits.rejectDuplicateKeys = true;
  Expected<json> index = parseJsonInput(text, indexPath, limits);
  if (!index)
    return index.status();
  if (!index->is_object())
    return corrupt(indexPath + ": not a JSON object");
  auto wm = index->find("weight_map");
  if (wm == index->end() || !wm->is_object())
    return corrupt(indexPath + ": missing object 'weight_map'");
  std::map<std::string, std::string> out;
  for (const auto &[tensor, shard] : wm->items()) {
    if (!shard.is_string())
      return corrupt(indexPath + ": weight_map entry for tensor " +
                     quote(tensor) + " is not a string");
    const std::string &name = shard.get_ref<const std::string &>();
    // Shards live beside the index; a path elsewhere is not a checkpoint we
    // can reason about (and could reach outside the directory).
    fs::path p(name);
    if (name.empty() || p.has_parent_path() || name == "." || name == "..")
      return corrupt(indexPath + ": weight_map maps tensor " + quote(tensor) +
                     " to " + quote(name) +
                     ", which is not a file name in the checkpoint directory");
    out[tensor] = name;
  }
  return out;
}

} // namespace

Expected<Checkpoint> Checkpoint::open(const std::string &dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return notFound(dir + " is not a checkpoint directory");

  Checkpoint ckpt;
  ckpt.dir_ = dir;
  auto addFile = [&](const fs::path &p) -> Expected<SafetensorsFile *> {
    BK_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open(p.string()));
    auto shared = std::make_shared<SafetensorsFile>(std::move(f));
    SafetensorsFile *raw = shared.get();
    ckpt.files_[p.string()] = std::move(shared);
    return raw;
  };
  // Merges a shard's tensors; a name held by two shards is ambiguous.
  auto merge = [&](const SafetensorsFile &f) -> Status {
    for (const auto &[name, info] : f.tensors()) {
      auto [it, inserted] = ckpt.tensors_.emplace(name, info);
      if (!inserted)
        return corrupt(dir + ": tensor " + quote(name) + " is in both " +
                       it->second.file + " and " + f.path());
    }
    return Status::ok();
  };

  const fs::path root(dir);
  const fs::path indexPath = root / kIndexName;
  if (fs::exists(indexPath, ec)) {
    BK_ASSIGN_OR_RETURN(auto weightMap, readWeightMap(indexPath.string()));
    // Shard name -> tensors the index assigns to it.
    std::map<std::string, std::set<std::string>> byShard;
    for (const auto &[tensor, shard] : weightMap)
      byShard[shard].insert(tensor);
    for (const auto &[shard, expected] : byShard) {
      const fs::path shardPath = root / shard;
      if (!fs::exists(shardPath, ec))
        return notFound(indexPath.string() + " maps tensor " +
                        quote(*expected.begin()) + " to " + shardPath.string() +
                        ", which does not exist");
      BK_ASSIGN_OR_RETURN(SafetensorsFile * f, addFile(shardPath));
      for (const std::string &tensor : expected)
        if (!f->tensors().count(tensor))
          return corrupt(indexPath.string() + " maps tensor " + quote(tensor) +
                         " to " + f->path() + ", which does not contain it");
      for (const auto &[tensor, info] : f->tensors()) {
        if (expected.count(tensor))
          continue;
        auto mapped = weightMap.find(tensor);
        if (mapped == weightMap.end())
          return corrupt(f->path() + " holds tensor " + quote(tensor) +
                         ", which " + indexPath.string() + " does not list");
        return corrupt(f->path() + " holds tensor " + quote(tensor) + ", but " +
                       indexPath.string() + " maps it to " +
                       (root / mapped->second).string());
      }
      BK_RETURN_IF_ERROR(merge(*f));
    }
    return ckpt;
  }

  std::vector<fs::path> shards;
  const fs::path single = root / kSingleName;
  if (fs::exists(single, ec)) {
    shards.push_back(single);
  } else {
    fs::directory_iterator it(root, ec), end;
    if (ec)
      return ioError("cannot list " + dir + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec)
        return ioError("cannot list " + dir + ": " + ec.message());
      if (it->path().extension() == ".safetensors")
        shards.push_back(it->path());
    }
    std::sort(shards.begin(), shards.end());
    if (shards.empty())
      return notFound(dir + ": no " + kIndexName + ", " + kSingleName +
                      " or *.safetensors file");
  }
  for (const fs::path &p : shards) {
    BK_ASSIGN_OR_RETURN(SafetensorsFile * f, addFile(p));
    BK_RETURN_IF_ERROR(merge(*f));
  }
  return ckpt;
}

Expected<Checkpoint> Checkpoint::declared(const std::string &origin,
                                          std::vector<TensorInfo> tensors) {
  Checkpoint ckpt;
  ckpt.dir_ = origin;
  ckpt.declaredOnly_ = true;
  for (TensorInfo &t : tensors) {
    if (dtypeStorageBytes(t.dtype) == 0)
      return invalidArgument(origin + ": declared tensor " + quote(t.name) +
                             " has an invalid dtype");
    std::optional<uint64_t> size =
        byteSizeOf(t.shape, uint64_t(dtypeStorageBytes(t.dtype)));
    if (!size)
      return invalidArgument(origin + ": declared tensor " + quote(t.name) +
                             " has shape " + shapeText(t.shape) +
                             ", which has a negative dimension or overflows");
    t.byteSize = *size;
    t.dataOffset = 0;
    t.file.clear();
    std::string name = t.name;
    if (!ckpt.tensors_.emplace(name, std::move(t)).second)
      return invalidArgument(origin + ": tensor " + quote(name) +
                             " is declared twice");
  }
  return ckpt;
}

const TensorInfo *Checkpoint::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Expected<std::span<const uint8_t>>
Checkpoint::bytes(const std::string &name) const {
  const TensorInfo *info = find(name);
  if (!info)
    return notFound(dir_ + ": checkpoint has no tensor " + quote(name));
  if (declaredOnly_)
    return unsupported(dir_ + ": tensor " + quote(name) +
                       " is declared only: its bytes are generated at load "
                       "time, not stored");
  auto it = files_.find(info->file);
  if (it == files_.end())
    return internalError(dir_ + ": tensor " + quote(name) + " names shard " +
                         info->file + ", which is not open");
  return it->second->bytes(name);
}

//===----------------------------------------------------------------------===//
// SafetensorsWriter
//===----------------------------------------------------------------------===//

namespace {

// JSON strings must be UTF-8; nlohmann would throw on anything else, so names
// and metadata are checked first (RFC 3629: no overlongs, no surrogates, at
// most U+10FFFF).
bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = uint8_t(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) // continuation bytes run past the end
      return false;
    for (size_t k = 1; k <= n; ++k) {
      uint8_t cc = uint8_t(s[i + k]);
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

} // namespace

struct SafetensorsWriter::Impl {
  std::string path; // the final name
  // Written under a temporary name, renamed to `path` by finish(); removed
  // when dropped unfinished or on SIGINT/SIGTERM (see FileSafety.h).
  std::optional<OutputFile> file;
  std::vector<Declared> tensors;
  std::vector<uint64_t> sizes;
  size_t next = 0;        // index of the next tensor to write
  uint64_t written = 0;   // bytes of tensor `next` written so far
  bool failed = false;
  bool finished = false;

  Status writeAll(const void *p, size_t n, const std::string &what) {
    if (n && std::fwrite(p, 1, n, file->stream()) != n) {
      failed = true;
      return ioError("cannot write " + what + " to " + file->tempPath() + ": " +
                     errnoText(errno));
    }
    return Status::ok();
  }
};

SafetensorsWriter::SafetensorsWriter(SafetensorsWriter &&) noexcept = default;
SafetensorsWriter &
SafetensorsWriter::operator=(SafetensorsWriter &&) noexcept = default;
SafetensorsWriter::~SafetensorsWriter() = default;

Expected<SafetensorsWriter>
SafetensorsWriter::create(const std::string &path,
                          std::vector<Declared> tensors,
                          std::map<std::string, std::string> metadata) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;

  // Data offsets follow declaration order; the JSON keeps that order too so
  // the header reads like the file.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto &[k, v] : metadata) {
      if (!isValidUtf8(k) || !isValidUtf8(v))
        return invalidArgument(path + ": metadata entry " + quote(k) +
                               " is not valid UTF-8");
      meta[k] = v;
    }
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const Declared &t : tensors) {
    auto bad = [&](const std::string &what) {
      return invalidArgument(path + ": tensor " + quote(t.name) + ": " + what);
    };
    if (t.name.empty() || t.name == "__metadata__" || !isValidUtf8(t.name))
      return bad("not a valid tensor name");
    if (!names.insert(t.name).second)
      return bad("declared twice");
    if (dtypeStorageBytes(t.dtype) == 0)
      return bad("invalid dtype");
    std::optional<uint64_t> size =
        byteSizeOf(t.shape, uint64_t(dtypeStorageBytes(t.dtype)));
    if (!size)
      return bad("shape " + shapeText(t.shape) +
                 " has a negative dimension or overflows 64 bits");
    if (__builtin_add_overflow(offset, *size, &offset))
      return bad("total data size overflows 64 bits");
    impl->sizes.push_back(*size);
    header[t.name] = {
        {"dtype", std::string(safetensorsDTypeName(t.dtype))},
        {"shape", t.shape},
        {"data_offsets", {offset - *size, offset}},
    };
  }
  impl->tensors = std::move(tensors);

  std::string text = header.dump();
  // The format allows trailing spaces in the header; padding to a multiple of
  // 8 puts the data area (and every 8-byte-sized tensor) on an 8-byte boundary.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t headerLen = text.size();

  BK_ASSIGN_OR_RETURN(OutputFile out, OutputFile::create(path));
  impl->file.emplace(std::move(out));
  BK_RETURN_IF_ERROR(impl->writeAll(&headerLen, 8, "the header length"));
  BK_RETURN_IF_ERROR(impl->writeAll(text.data(), text.size(), "the header"));

  SafetensorsWriter w;
  w.impl_ = std::move(impl);
  return w;
}

Status SafetensorsWriter::append(const std::string &name,
                                 std::span<const uint8_t> data) {
  if (!impl_)
    return invalidArgument("SafetensorsWriter used after being moved from");
  Impl &im = *impl_;
  if (im.finished)
    return invalidArgument(im.path + ": write of tensor " + quote(name) +
                           " after finish()");
  if (im.failed)
    return ioError(im.path + ": an earlier write failed");
  if (im.next >= im.tensors.size())
    return invalidArgument(im.path + ": tensor " + quote(name) +
                           " written after all declared tensors");
  const Declared &t = im.tensors[im.next];
  if (t.name != name)
    return invalidArgument(im.path + ": tensor " + quote(name) +
                           " written out of order; expected " + quote(t.name) +
                           " next");
  uint64_t declared = im.sizes[im.next];
  if (data.size() > declared - im.written)
    return invalidArgument(im.path + ": tensor " + quote(name) + " gets " +
                           std::to_string(im.written + data.size()) +
                           " bytes, declared as " + std::to_string(declared));
  BK_RETURN_IF_ERROR(
      im.writeAll(data.data(), data.size(), "tensor " + quote(name)));
  im.written += data.size();
  if (im.written == declared) {
    ++im.next;
    im.written = 0;
  }
  return Status::ok();
}

Status SafetensorsWriter::write(const std::string &name,
                                std::span<const uint8_t> data) {
  if (impl_ && impl_->next < impl_->tensors.size() &&
      impl_->tensors[impl_->next].name == name &&
      (impl_->written != 0 || data.size() != impl_->sizes[impl_->next]))
    return invalidArgument(impl_->path + ": tensor " + quote(name) + " has " +
                           std::to_string(impl_->written + data.size()) +
                           " bytes, declared as " +
                           std::to_string(impl_->sizes[impl_->next]));
  return append(name, data);
}

Status SafetensorsWriter::finish() {
  if (!impl_)
    return invalidArgument("SafetensorsWriter used after being moved from");
  Impl &im = *impl_;
  if (im.finished)
    return invalidArgument(im.path + ": finish() called twice");
  if (im.failed)
    return ioError(im.path + ": an earlier write failed");
  if (im.next < im.tensors.size())
    return invalidArgument(im.path + ": tensor " +
                           quote(im.tensors[im.next].name) +
                           (im.written ? " was only partly written"
                                       : " was declared but never written"));
  if (Status s = im.file->commit(); !s) {
    im.failed = true;
    return s;
  }
  im.finished = true;
  return Status::ok();
}

} // namespace birkhoff
