//! Hand-written AAC-LC audio for the synthetic engine (ENGINE-010): ADTS frames of stereo silence
//! at 48 kHz, 1024 samples each.
//!
//! A silent frame is one channel pair element with a common long window and `max_sfb = 0` (no
//! scale factor bands, so no spectral data): both channels decode to zeros.

pub const SAMPLE_RATE: u32 = 48_000;
pub const SAMPLES_PER_FRAME: u32 = 1024;
/// 1024 samples at 48 kHz on the 90 kHz clock: exactly 1920 ticks (21.33 ms).
pub const FRAME_TICKS_90KHZ: u64 = SAMPLES_PER_FRAME as u64 * 90_000 / SAMPLE_RATE as u64;
pub const CHANNELS: u32 = 2;

/// sampling_frequency_index of 48 000 Hz.
const FREQUENCY_INDEX_48K: u32 = 3;
const ID_CPE: u32 = 1;
const ID_END: u32 = 7;

/// MSB-first bit packing for the few fields of a frame.
#[derive(Debug, Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u8,
}

impl Bits {
    fn put(&mut self, bits: u8, value: u32) {
        for i in (0..bits).rev() {
            if self.used == 0 {
                self.bytes.push(0);
            }
            if (value >> i) & 1 == 1 {
                *self.bytes.last_mut().expect("pushed") |= 0x80 >> self.used;
            }
            self.used = (self.used + 1) % 8;
        }
    }
}

/// The raw_data_block of a silent stereo frame, byte-aligned.
fn silent_raw_data_block() -> Vec<u8> {
    let mut b = Bits::default();
    b.put(3, ID_CPE);
    b.put(4, 0); // element_instance_tag
    b.put(1, 1); // common_window
                 // ics_info()
    b.put(1, 0); // ics_reserved_bit
    b.put(2, 0); // window_sequence: ONLY_LONG_SEQUENCE
    b.put(1, 0); // window_shape: sine
    b.put(6, 0); // max_sfb: no bands coded
    b.put(1, 0); // predictor_data_present
    b.put(2, 0); // ms_mask_present
    for _ in 0..CHANNELS {
        // individual_channel_stream(common_window = 1)
        b.put(8, 100); // global_gain (unused without bands)
                       // section_data and scale_factor_data are empty for max_sfb = 0
        b.put(1, 0); // pulse_data_present
        b.put(1, 0); // tns_data_present
        b.put(1, 0); // gain_control_data_present
    }
    b.put(3, ID_END);
    b.bytes // byte_alignment(): the padding bits are already zero
}

/// The 7-byte ADTS header (MPEG-4, no CRC) for a frame of `frame_length` bytes including it.
fn adts_header(frame_length: usize) -> [u8; 7] {
    let mut b = Bits::default();
    b.put(12, 0xFFF); // syncword
    b.put(1, 0); // ID: MPEG-4
    b.put(2, 0); // layer
    b.put(1, 1); // protection_absent: no CRC
    b.put(2, 1); // profile: AAC LC (object type 2 - 1)
    b.put(4, FREQUENCY_INDEX_48K);
    b.put(1, 0); // private_bit
    b.put(3, CHANNELS); // channel_configuration: stereo
    b.put(1, 0); // original_copy
    b.put(1, 0); // home
    b.put(1, 0); // copyright_identification_bit
    b.put(1, 0); // copyright_identification_start
    b.put(13, frame_length as u32); // aac_frame_length
    b.put(11, 0x7FF); // adts_buffer_fullness: variable rate
    b.put(2, 0); // number_of_raw_data_blocks_in_frame - 1
    b.bytes.try_into().expect("56 bits")
}

/// One ADTS frame of 1024 stereo samples of silence.
pub fn silent_adts_frame() -> Vec<u8> {
    let block = silent_raw_data_block();
    let mut frame = adts_header(7 + block.len()).to_vec();
    frame.extend_from_slice(&block);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_frame_has_a_valid_adts_header_and_length() {
        let frame = silent_adts_frame();
        assert_eq!(&frame[..2], &[0xFF, 0xF1]); // sync, MPEG-4, layer 0, no CRC
        assert_eq!(frame[2] >> 6, 1, "AAC LC");
        assert_eq!((frame[2] >> 2) & 0x0F, 3, "48 kHz");
        let channels = ((frame[2] & 1) << 2) | (frame[3] >> 6);
        assert_eq!(channels, 2);
        let length = (((frame[3] & 3) as usize) << 11)
            | ((frame[4] as usize) << 3)
            | (frame[5] as usize >> 5);
        assert_eq!(length, frame.len());
        // 46 bits of raw data block: 6 bytes.
        assert_eq!(frame.len(), 13);
        assert_eq!(FRAME_TICKS_90KHZ, 1920);
    }
}
