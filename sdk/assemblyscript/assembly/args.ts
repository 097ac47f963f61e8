// Lowering of byte-like arguments to the (ptr, len) pairs of the ABI
// (sdk/ABI.md §3, guest to host). Internal to the SDK.
//
// Every SDK function that sends bytes is generic over the argument type and
// accepts Uint8Array, ArrayBuffer, StaticArray<u8> or string. Byte types are
// passed in place. A string is encoded as UTF-8 into one of two staging
// buffers owned by the SDK, so a call such as setTag("k", "v") allocates
// nothing once the buffers are large enough. The host copies the bytes
// during the call and never keeps the pointer, so the staging buffers are
// free again as soon as the host function returns.

/** Initial size of each staging buffer; they grow to the largest string sent. */
const STAGE_SIZE: i32 = 1024;

let stage0 = new ArrayBuffer(STAGE_SIZE);
let stage1 = new ArrayBuffer(STAGE_SIZE);

/** Byte length of v as it crosses the ABI. */
export function argLen<T>(v: T): i32 {
  if (isString<T>()) {
    return String.UTF8.byteLength(changetype<string>(v));
  } else if (idof<T>() == idof<Uint8Array>()) {
    return changetype<Uint8Array>(v).length;
  } else if (idof<T>() == idof<ArrayBuffer>()) {
    return changetype<ArrayBuffer>(v).byteLength;
  } else if (idof<T>() == idof<StaticArray<u8>>()) {
    return changetype<StaticArray<u8>>(v).length;
  }
  ERROR("sluice: a byte argument must be a string, Uint8Array, ArrayBuffer or StaticArray<u8>");
  return 0;
}

/**
 * Address of v's bytes in linear memory. A string is staged in buffer
 * `slot` (0 or 1): a call with two string arguments uses both slots.
 */
export function argPtr<T>(v: T, slot: i32): usize {
  if (isString<T>()) {
    const s = changetype<string>(v);
    const n = String.UTF8.byteLength(s);
    let buf = slot == 0 ? stage0 : stage1;
    if (buf.byteLength < n) {
      buf = new ArrayBuffer(n);
      if (slot == 0) stage0 = buf;
      else stage1 = buf;
    }
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, changetype<usize>(buf));
    return changetype<usize>(buf);
  } else if (idof<T>() == idof<Uint8Array>()) {
    return changetype<Uint8Array>(v).dataStart;
  } else if (idof<T>() == idof<ArrayBuffer>()) {
    return changetype<usize>(v);
  } else if (idof<T>() == idof<StaticArray<u8>>()) {
    return changetype<usize>(v);
  }
  ERROR("sluice: a byte argument must be a string, Uint8Array, ArrayBuffer or StaticArray<u8>");
  return 0;
}
