/* A C program that uses liblayercrypt as an installed library: encrypts a
 * small tar for a recipient, decrypts it back, checks the bytes. Built by
 * tests/install/install_test.sh with pkg-config and with find_package.
 * Usage: c_consumer PUBLIC_KEY PRIVATE_KEY */
#include <layercrypt.h>
#include <stdio.h>
#include <string.h>

struct buf {
  unsigned char data[1 << 16];
  size_t len, pos;
};

static int64_t mem_read(void *ctx, uint8_t *out, size_t cap) {
  struct buf *b = ctx;
  size_t n = b->len - b->pos < cap ? b->len - b->pos : cap;
  memcpy(out, b->data + b->pos, n);
  b->pos += n;
  return (int64_t)n;
}

static int mem_write(void *ctx, const uint8_t *in, size_t len) {
  struct buf *b = ctx;
  if (b->len + len > sizeof b->data) return -1;
  memcpy(b->data + b->len, in, len);
  b->len += len;
  return 0;
}

static int check(lc_status st, const char *what) {
  if (st == LC_OK) return 0;
  fprintf(stderr, "%s: %s: %s\n", what, lc_status_name(st), lc_last_error());
  return 1;
}

int main(int argc, char **argv) {
  static struct buf tar, enc, dec;
  lc_encrypt_config *ec;
  lc_decrypt_config *dc;
  lc_layer *layer = NULL;
  lc_reader r;
  lc_writer w;
  char desc[16384];
  if (argc != 3) return 2;
  /* A tar with one empty file "hello": a ustar header and two zero blocks. */
  memset(tar.data, 0, 1536);
  strcpy((char *)tar.data, "hello");
  memcpy(tar.data + 100, "0000644", 7);
  memcpy(tar.data + 124, "00000000000", 11);
  memcpy(tar.data + 136, "00000000000", 11);
  tar.data[156] = '0';
  memcpy(tar.data + 257, "ustar\0" "00", 8);
  {
    unsigned sum = 0;
    size_t i;
    memset(tar.data + 148, ' ', 8);
    for (i = 0; i < 512; ++i) sum += tar.data[i];
    snprintf((char *)tar.data + 148, 8, "%06o", sum);
  }
  tar.len = 1536;
  ec = lc_encrypt_config_new();
  dc = lc_decrypt_config_new();
  if (check(lc_encrypt_config_add_recipient(ec, argv[1]), "recipient")) return 1;
  r.ctx = &tar; r.read = mem_read;
  w.ctx = &enc; w.write = mem_write;
  if (check(lc_encrypt_layer(ec, "application/vnd.oci.image.layer.v1.tar", r, w, &layer), "encrypt"))
    return 1;
  snprintf(desc, sizeof desc, "%s", lc_layer_descriptor_json(layer));
  lc_layer_free(layer);
  if (check(lc_decrypt_config_add_key_file(dc, argv[2], NULL), "key")) return 1;
  r.ctx = &enc;
  w.ctx = &dec;
  if (check(lc_decrypt_layer(dc, desc, r, w, 0, NULL), "decrypt")) return 1;
  lc_encrypt_config_free(ec);
  lc_decrypt_config_free(dc);
  if (dec.len != tar.len || memcmp(dec.data, tar.data, tar.len) != 0) {
    fprintf(stderr, "round trip changed the bytes\n");
    return 1;
  }
  printf("liblayercrypt %s: %zu-byte layer encrypted to %zu bytes and back\n", lc_version(), tar.len,
         enc.len);
  return 0;
}
