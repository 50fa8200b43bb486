// Validation of a plugin file's ELF header, program headers and section
// headers against its size (see elf_check.h). Reads only through memcpy at
// checked offsets; every sum and product is overflow-checked. The file variant
// maps the file read-only, so only the pages holding headers are read.
#include "plugin/elf_check.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace trainrt {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
#elif defined(__i386__)
constexpr uint16_t kHostMachine = EM_386;
#elif defined(__arm__)
constexpr uint16_t kHostMachine = EM_ARM;
#elif defined(__riscv)
constexpr uint16_t kHostMachine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr uint16_t kHostMachine = EM_PPC64;
#elif defined(__s390x__)
constexpr uint16_t kHostMachine = EM_S390;
#elif defined(__loongarch64)
constexpr uint16_t kHostMachine = 258;  // EM_LOONGARCH
#else
#error "elf_check.cpp: add this architecture's EM_ value"
#endif
constexpr unsigned char kHostClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kHostData = ELFDATA2LSB;
#else
constexpr unsigned char kHostData = ELFDATA2MSB;
#endif

std::string machine_name(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86_64";
    case EM_AARCH64: return "aarch64";
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_PPC: return "ppc";
    case EM_S390: return "s390x";
    case EM_MIPS: return "mips";
    case EM_SPARCV9: return "sparc64";
    case EM_IA_64: return "ia64";
    case 258: return "loongarch64";
    case EM_NONE: return "no machine (EM_NONE)";
    default: return "machine type " + std::to_string(machine);
  }
}

std::string type_name(uint16_t type) {
  switch (type) {
    case ET_REL: return "an object file (ET_REL), not a shared object; link it as a shared library";
    case ET_EXEC: return "an executable (ET_EXEC), not a shared object; build it with trainrt_add_plugin (a MODULE library)";
    case ET_CORE: return "a core dump (ET_CORE), not a shared object";
    default: return "of ELF type " + std::to_string(type) + ", not a shared object (ET_DYN)";
  }
}

std::string segment_name(uint32_t type) {
  switch (type) {
    case PT_LOAD: return "PT_LOAD";
    case PT_DYNAMIC: return "PT_DYNAMIC";
    case PT_INTERP: return "PT_INTERP";
    case PT_NOTE: return "PT_NOTE";
    case PT_PHDR: return "PT_PHDR";
    case PT_TLS: return "PT_TLS";
    default: return "type " + std::to_string(type);
  }
}

// offset + count * entry; UINT64_MAX when that overflows (never inside a file).
uint64_t end_of(uint64_t offset, uint64_t count, uint64_t entry) {
  uint64_t bytes = 0, end = 0;
  if (__builtin_mul_overflow(count, entry, &bytes) || __builtin_add_overflow(offset, bytes, &end)) return UINT64_MAX;
  return end;
}

template <typename T> T read_at(const uint8_t* data, uint64_t offset) {
  T value;
  std::memcpy(&value, data + offset, sizeof(T));
  return value;
}

std::string cut_short(size_t size, const std::string& what, uint64_t end) {
  return "file is cut short: " + std::to_string(size) + " bytes, but " + what + " ends at byte " +
         (end == UINT64_MAX ? std::string("beyond 2^64") : std::to_string(end)) +
         "; copy or rebuild the plugin again";
}

// The tables of one ELF class (the host's, already checked).
template <typename Ehdr, typename Phdr, typename Shdr>
std::string check_tables(const uint8_t* data, size_t size) {
  if (size < sizeof(Ehdr)) return cut_short(size, "the ELF header", sizeof(Ehdr));
  const Ehdr eh = read_at<Ehdr>(data, 0);
  if (eh.e_version != EV_CURRENT) return "unknown ELF version " + std::to_string(eh.e_version) + "; not a plugin";
  if (eh.e_type != ET_DYN) return "is " + type_name(eh.e_type);

  // Section headers first: with extended numbering, section 0 holds the real counts.
  uint64_t shnum = eh.e_shnum, phnum = eh.e_phnum, shstrndx = eh.e_shstrndx;
  if (eh.e_shoff != 0) {
    if (eh.e_shentsize != sizeof(Shdr))
      return "section header entries of " + std::to_string(eh.e_shentsize) + " bytes, expected " +
             std::to_string(sizeof(Shdr)) + "; not a valid ELF file";
    if (uint64_t end = end_of(eh.e_shoff, 1, sizeof(Shdr)); end > size)
      return cut_short(size, "the section header table", end);
    const Shdr first = read_at<Shdr>(data, eh.e_shoff);
    if (shnum == 0) shnum = first.sh_size;
    if (phnum == PN_XNUM) phnum = first.sh_info;
    if (shstrndx == SHN_XINDEX) shstrndx = first.sh_link;
    if (uint64_t end = end_of(eh.e_shoff, shnum, sizeof(Shdr)); end > size)
      return cut_short(size, "the section header table (" + std::to_string(shnum) + " entries)", end);
    if (shstrndx != SHN_UNDEF && shstrndx >= shnum)
      return "section name table index " + std::to_string(shstrndx) + " is out of range (" + std::to_string(shnum) +
             " sections); not a valid ELF file";
    for (uint64_t i = 0; i < shnum; ++i) {
      const Shdr sh = read_at<Shdr>(data, eh.e_shoff + i * sizeof(Shdr));
      if (sh.sh_type == SHT_NOBITS || sh.sh_type == SHT_NULL || sh.sh_size == 0) continue;
      if (uint64_t end = end_of(sh.sh_offset, 1, sh.sh_size); end > size)
        return cut_short(size, "section " + std::to_string(i), end);
    }
  } else if (phnum == PN_XNUM) {
    return "extended program header count without a section header table; not a valid ELF file";
  }

  if (phnum == 0) return "has no program headers; not a loadable shared object";
  if (eh.e_phentsize != sizeof(Phdr))
    return "program header entries of " + std::to_string(eh.e_phentsize) + " bytes, expected " +
           std::to_string(sizeof(Phdr)) + "; not a valid ELF file";
  if (uint64_t end = end_of(eh.e_phoff, phnum, sizeof(Phdr)); end > size)
    return cut_short(size, "the program header table", end);
  bool has_load = false, has_dynamic = false;
  for (uint64_t i = 0; i < phnum; ++i) {
    const Phdr ph = read_at<Phdr>(data, eh.e_phoff + i * sizeof(Phdr));
    has_load |= ph.p_type == PT_LOAD;
    has_dynamic |= ph.p_type == PT_DYNAMIC;
    if (ph.p_filesz == 0) continue;
    if (uint64_t end = end_of(ph.p_offset, 1, ph.p_filesz); end > size)
      return cut_short(size, "segment " + std::to_string(i) + " (" + segment_name(ph.p_type) + ")", end);
    if (ph.p_type == PT_LOAD && ph.p_filesz > ph.p_memsz)
      return "segment " + std::to_string(i) + " (PT_LOAD) holds more bytes in the file (" + std::to_string(ph.p_filesz) +
             ") than in memory (" + std::to_string(ph.p_memsz) + "); not a valid ELF file";
  }
  if (!has_load) return "has no loadable (PT_LOAD) segment; not a shared object";
  if (!has_dynamic) return "has no dynamic section (PT_DYNAMIC); not a shared object";
  return "";
}

}  // namespace

std::string host_machine_name() { return machine_name(kHostMachine); }

std::string check_elf_plugin(const uint8_t* data, size_t size) {
  if (size < EI_NIDENT || std::memcmp(data, ELFMAG, SELFMAG) != 0)
    return "not a shared object (no ELF header); remove it from the plugin folder";
  const unsigned char elf_class = data[EI_CLASS], encoding = data[EI_DATA];
  if (elf_class != ELFCLASS32 && elf_class != ELFCLASS64)
    return "unknown ELF class " + std::to_string(elf_class) + "; not a plugin";
  if (encoding != ELFDATA2LSB && encoding != ELFDATA2MSB)
    return "unknown ELF data encoding " + std::to_string(encoding) + "; not a plugin";
  const size_t machine_end = offsetof(Elf64_Ehdr, e_machine) + sizeof(uint16_t);  // same offset in both classes
  if (size < machine_end) return cut_short(size, "the ELF header", machine_end);
  uint16_t machine = read_at<uint16_t>(data, offsetof(Elf64_Ehdr, e_machine));
  if (encoding != kHostData) machine = static_cast<uint16_t>((machine >> 8) | (machine << 8));
  if (machine != kHostMachine)
    return "built for " + machine_name(machine) + ", this is " + host_machine_name() + "; rebuild the plugin for " +
           host_machine_name();
  if (elf_class != kHostClass)
    return std::string("built as a ") + (elf_class == ELFCLASS64 ? "64" : "32") + "-bit object, this trainrt is " +
           (kHostClass == ELFCLASS64 ? "64" : "32") + "-bit; rebuild the plugin for " + host_machine_name();
  if (encoding != kHostData) return "built with the other byte order; rebuild the plugin for " + host_machine_name();
  if constexpr (kHostClass == ELFCLASS64) return check_tables<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr>(data, size);
  else return check_tables<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr>(data, size);
}

std::string check_elf_plugin_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO must not block the run
  if (fd < 0) return std::string("cannot be opened: ") + std::strerror(errno);
  struct stat st {};
  std::string reason;
  if (::fstat(fd, &st) != 0) {
    reason = std::string("cannot be read: ") + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    reason = "not a regular file; remove it from the plugin folder";
  } else if (st.st_size == 0) {
    reason = check_elf_plugin(nullptr, 0);
  } else {
    void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      reason = std::string("cannot be mapped: ") + std::strerror(errno);
    } else {
      reason = check_elf_plugin(static_cast<const uint8_t*>(map), static_cast<size_t>(st.st_size));
      ::munmap(map, static_cast<size_t>(st.st_size));
    }
  }
  ::close(fd);
  return reason;
}

}  // namespace trainrt
