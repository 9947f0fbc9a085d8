//! Hand-written MPEG-1 elementary streams for the synthetic engine: intra-only pictures whose
//! macroblocks are flat colours (DC coefficients only) and a silent MPEG-1 Layer II audio frame.
//! Enough to be decoded by any player without linking an encoder.

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;
pub const MB_COLUMNS: u32 = WIDTH / 16;
/// 360 lines need 23 macroblock rows (the last one is cropped by the decoder).
pub const MB_ROWS: u32 = HEIGHT.div_ceil(16);
pub const FRAMES_PER_SECOND: u32 = 30;
/// `picture_rate` code for 30 frames per second.
const PICTURE_RATE_30: u32 = 5;
/// One Layer II frame: 1152 samples at 48 kHz = 24 ms.
pub const AUDIO_FRAME_TICKS_90KHZ: u64 = 2160;

/// A colour in BT.601 limited-range Y'CbCr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ycbcr(pub u8, pub u8, pub u8);

pub const BLACK: Ycbcr = Ycbcr(16, 128, 128);
pub const WHITE: Ycbcr = Ycbcr(235, 128, 128);
/// 75% colour bars, left to right.
pub const BARS: [Ycbcr; 7] = [
    Ycbcr(180, 128, 128),
    Ycbcr(162, 44, 142),
    Ycbcr(131, 156, 44),
    Ycbcr(112, 72, 58),
    Ycbcr(84, 184, 198),
    Ycbcr(65, 100, 212),
    Ycbcr(35, 212, 114),
];

/// MSB-first bit writer.
#[derive(Debug, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used_bits_in_last: u8,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u8) {
        for i in (0..bits).rev() {
            let bit = (value >> i) & 1;
            if self.used_bits_in_last == 0 {
                self.bytes.push(0);
            }
            if bit == 1 {
                *self.bytes.last_mut().expect("pushed") |= 0x80 >> self.used_bits_in_last;
            }
            self.used_bits_in_last = (self.used_bits_in_last + 1) % 8;
        }
    }

    /// next_start_code(): zero bits up to the byte boundary.
    fn align(&mut self) {
        self.used_bits_in_last = 0;
    }

    fn start_code(&mut self, code: u8) {
        self.align();
        self.bytes.extend_from_slice(&[0, 0, 1, code]);
    }
}

/// dct_dc_size_luminance VLC (code, length), indexed by size.
const LUMA_DC_SIZE: [(u32, u8); 9] = [
    (0b100, 3),
    (0b00, 2),
    (0b01, 2),
    (0b101, 3),
    (0b110, 3),
    (0b1110, 4),
    (0b11110, 5),
    (0b111110, 6),
    (0b1111110, 7),
];
/// dct_dc_size_chrominance VLC (code, length), indexed by size.
const CHROMA_DC_SIZE: [(u32, u8); 9] = [
    (0b00, 2),
    (0b01, 2),
    (0b10, 2),
    (0b110, 3),
    (0b1110, 4),
    (0b11110, 5),
    (0b111110, 6),
    (0b1111110, 7),
    (0b11111110, 8),
];

/// Writes one intra block holding only a DC differential, then end_of_block.
fn put_dc_block(writer: &mut BitWriter, table: &[(u32, u8); 9], differential: i32) {
    let size = 32 - differential.unsigned_abs().leading_zeros();
    let (code, length) = table[size as usize];
    writer.put(code, length);
    if size > 0 {
        let bits = if differential > 0 {
            differential as u32
        } else {
            (differential + (1 << size) - 1) as u32
        };
        writer.put(bits, size as u8);
    }
    writer.put(0b10, 2); // end_of_block
}

/// One complete access unit: sequence header, GOP header and an intra picture whose macroblock
/// at (column, row) has the flat colour `colour_at(column, row)`. Every picture carries its own
/// headers so a decoder can start at any picture.
pub fn intra_picture(frame_number: u64, colour_at: impl Fn(u32, u32) -> Ycbcr) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.start_code(0xB3); // sequence header
    w.put(WIDTH, 12);
    w.put(HEIGHT, 12);
    w.put(1, 4); // square pixels
    w.put(PICTURE_RATE_30, 4);
    w.put(5000, 18); // bit_rate in 400 bit/s units (nominal)
    w.put(1, 1); // marker
    w.put(20, 10); // vbv_buffer_size in 16 kbit units
    w.put(0, 1); // constrained_parameters_flag
    w.put(0, 1); // default intra quantiser matrix
    w.put(0, 1); // default non-intra quantiser matrix

    let seconds_total = frame_number / FRAMES_PER_SECOND as u64;
    w.start_code(0xB8); // group of pictures
    w.put(0, 1); // drop_frame_flag
    w.put(((seconds_total / 3600) % 24) as u32, 5);
    w.put(((seconds_total / 60) % 60) as u32, 6);
    w.put(1, 1); // marker
    w.put((seconds_total % 60) as u32, 6);
    w.put((frame_number % FRAMES_PER_SECOND as u64) as u32, 6);
    w.put(1, 1); // closed_gop
    w.put(0, 1); // broken_link

    w.start_code(0x00); // picture
    w.put(0, 10); // temporal_reference: one picture per GOP
    w.put(1, 3); // I picture
    w.put(0xFFFF, 16); // vbv_delay: variable
    w.put(0, 1); // extra_bit_picture

    for row in 0..MB_ROWS {
        w.start_code((row + 1) as u8); // slice per macroblock row
        w.put(8, 5); // quantiser_scale (unused by DC-only intra blocks, must be non-zero)
        w.put(0, 1); // extra_bit_slice
                     // DC predictors reset to 128 at the start of each slice.
        let (mut y_past, mut cb_past, mut cr_past) = (128i32, 128i32, 128i32);
        for column in 0..MB_COLUMNS {
            let Ycbcr(y, cb, cr) = colour_at(column, row);
            w.put(1, 1); // macroblock_address_increment = 1
            w.put(1, 1); // macroblock_type: intra
            for _ in 0..4 {
                put_dc_block(&mut w, &LUMA_DC_SIZE, y as i32 - y_past);
                y_past = y as i32;
            }
            put_dc_block(&mut w, &CHROMA_DC_SIZE, cb as i32 - cb_past);
            cb_past = cb as i32;
            put_dc_block(&mut w, &CHROMA_DC_SIZE, cr as i32 - cr_past);
            cr_past = cr as i32;
        }
    }
    w.align();
    w.bytes
}

/// A silent MPEG-1 Layer II frame: 48 kHz, 64 kbit/s, mono, no CRC. All bit allocations are zero,
/// so after the 4-byte header the remaining 188 bytes are zero.
pub fn silent_layer2_frame() -> [u8; 192] {
    let mut frame = [0u8; 192];
    frame[..4].copy_from_slice(&[0xFF, 0xFD, 0x44, 0xC0]);
    frame
}

/// The picture for a segment kind (ENGINE-010): bars for content, flat colours for
/// interstitials, black for pads, and a white square at `frame_number` so motion is visible.
pub fn picture_for_kind(kind: &str, pad: bool, frame_number: u64) -> Vec<u8> {
    let background = move |column: u32| -> Ycbcr {
        if pad {
            return BLACK;
        }
        match kind {
            "commercial" => Ycbcr(81, 90, 240),  // red
            "promo" => Ycbcr(145, 54, 34),       // green
            "bumper" => Ycbcr(41, 240, 110),     // blue
            "station_id" => Ycbcr(210, 16, 146), // yellow
            "filler" => Ycbcr(106, 202, 222),    // magenta
            _ => BARS[(column * BARS.len() as u32 / MB_COLUMNS) as usize],
        }
    };
    let marker_column = (frame_number % MB_COLUMNS as u64) as u32;
    intra_picture(frame_number, move |column, row| {
        if row == MB_ROWS - 3 && column == marker_column {
            WHITE
        } else {
            background(column)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_picture_has_its_headers_and_one_slice_per_row() {
        let picture = intra_picture(0, |_, _| BLACK);
        assert_eq!(&picture[..4], &[0, 0, 1, 0xB3]);
        let slices = picture
            .windows(4)
            .filter(|w| w[..3] == [0, 0, 1] && (1..=0xAF).contains(&w[3]))
            .count();
        assert_eq!(slices, MB_ROWS as usize);
    }

    #[test]
    fn dc_differentials_use_ones_complement_for_negatives() {
        let mut w = BitWriter::default();
        put_dc_block(&mut w, &LUMA_DC_SIZE, -112); // size 7: 111110, value 15 = 0001111, EOB 10
        assert_eq!(w.bytes, vec![0b1111_1000, 0b0111_1100]);
    }
}
