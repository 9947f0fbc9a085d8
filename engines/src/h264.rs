//! A hand-written H.264 Constrained Baseline writer for the synthetic engine (ENGINE-010).
//!
//! Pictures are grids of flat-coloured macroblocks. A keyframe is an IDR access unit (AUD, SPS,
//! PPS, one I slice) in which a macroblock whose colour differs from its neighbours is coded as
//! I_PCM (raw samples) and a macroblock repeating the one above (or to the left) is coded as
//! Intra 16x16 vertical (or horizontal) prediction without residual, which copies that colour
//! exactly. Between keyframes a P slice skips every macroblock that did not change (P_Skip runs)
//! and codes the changed ones the same way. Deblocking is off, so every picture decodes to
//! exactly the requested colours. CAVLC, one slice per picture, Annex B start codes, emulation
//! prevention.

/// A colour in BT.601 limited-range Y'CbCr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ycbcr(pub u8, pub u8, pub u8);

pub const BLACK: Ycbcr = Ycbcr(16, 128, 128);
pub const WHITE: Ycbcr = Ycbcr(235, 128, 128);

/// A picture of `columns` x `rows` macroblocks, each one flat colour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    columns: u32,
    rows: u32,
    macroblocks: Vec<Ycbcr>,
}

impl Picture {
    pub fn new(columns: u32, rows: u32, colour_at: impl Fn(u32, u32) -> Ycbcr) -> Picture {
        let mut macroblocks = Vec::with_capacity((columns * rows) as usize);
        for row in 0..rows {
            for column in 0..columns {
                macroblocks.push(colour_at(column, row));
            }
        }
        Picture {
            columns,
            rows,
            macroblocks,
        }
    }

    pub fn at(&self, column: u32, row: u32) -> Ycbcr {
        self.macroblocks[(row * self.columns + column) as usize]
    }
}

/// MSB-first writer of an RBSP.
#[derive(Debug, Default)]
struct Bits {
    bytes: Vec<u8>,
    /// Bits already used in the last byte; 0 when byte-aligned.
    used: u8,
}

impl Bits {
    fn u(&mut self, bits: u8, value: u32) {
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

    fn flag(&mut self, value: bool) {
        self.u(1, value as u32);
    }

    /// Unsigned exp-Golomb: `len - 1` zeros, then `value + 1` in `len` bits.
    fn ue(&mut self, value: u32) {
        let coded = value as u64 + 1;
        let len = (64 - coded.leading_zeros()) as u8;
        self.u(len - 1, 0);
        for i in (0..len).rev() {
            self.u(1, ((coded >> i) & 1) as u32);
        }
    }

    /// Signed exp-Golomb: 1, -1, 2, -2, ... map to 1, 2, 3, 4, ...
    fn se(&mut self, value: i32) {
        let mapped = if value > 0 {
            2 * value as u32 - 1
        } else {
            2 * value.unsigned_abs()
        };
        self.ue(mapped);
    }

    fn align_zero(&mut self) {
        self.used = 0;
    }

    /// Whole bytes; only when aligned.
    fn bytes(&mut self, data: &[u8]) {
        debug_assert_eq!(self.used, 0);
        self.bytes.extend_from_slice(data);
    }

    /// rbsp_trailing_bits(): a one bit, then zeros to the byte boundary.
    fn trailing(mut self) -> Vec<u8> {
        self.u(1, 1);
        self.align_zero();
        self.bytes
    }
}

const NAL_SLICE: u8 = 1;
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;

/// Appends one NAL unit with a 4-byte start code, inserting emulation-prevention bytes
/// (0x03 after two zero bytes when the next byte is 0..=3).
pub fn write_nal(out: &mut Vec<u8>, ref_idc: u8, nal_type: u8, rbsp: &[u8]) {
    out.extend_from_slice(&[0, 0, 0, 1, (ref_idc << 5) | nal_type]);
    let mut zeros = 0;
    for &byte in rbsp {
        if zeros >= 2 && byte <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(byte);
        zeros = if byte == 0 { zeros + 1 } else { 0 };
    }
}

/// How one macroblock is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Skip,
    Pcm,
    /// Intra 16x16 vertical prediction (luma and chroma), no residual.
    Vertical,
    /// Intra 16x16 horizontal prediction, no residual.
    Horizontal,
}

impl Coding {
    /// nN of 9.2.1: the coefficient count a neighbour contributes to nC.
    fn total_coeff(self) -> u32 {
        match self {
            Coding::Pcm => 16,
            Coding::Skip | Coding::Vertical | Coding::Horizontal => 0,
        }
    }
}

/// Frame numbers count modulo 2^8 (log2_max_frame_num_minus4 = 4).
const LOG2_MAX_FRAME_NUM: u8 = 8;

/// Encodes a sequence of flat-macroblock pictures into Annex B access units.
#[derive(Debug)]
pub struct Encoder {
    columns: u32,
    rows: u32,
    frames_per_second: u32,
    frame_num: u32,
    idr_pic_id: u32,
    previous: Option<Picture>,
}

impl Encoder {
    /// An encoder for `columns` x `rows` macroblocks (16x16 luma samples each) at a fixed rate.
    pub fn new(columns: u32, rows: u32, frames_per_second: u32) -> Encoder {
        Encoder {
            columns,
            rows,
            frames_per_second,
            frame_num: 0,
            idr_pic_id: 0,
            previous: None,
        }
    }

    /// level_idc: 3.1 up to 3600 macroblocks (1280x720), 4.0 above.
    fn level_idc(&self) -> u32 {
        if self.columns * self.rows <= 3600 {
            31
        } else {
            40
        }
    }

    /// The sequence parameter set (Constrained Baseline, POC type 2, VUI with the frame rate).
    pub fn sps(&self) -> Vec<u8> {
        let mut b = Bits::default();
        b.u(8, 66); // profile_idc: Baseline
        b.u(8, 0b1100_0000); // constraint_set0 and set1: Constrained Baseline
        b.u(8, self.level_idc());
        b.ue(0); // seq_parameter_set_id
        b.ue((LOG2_MAX_FRAME_NUM - 4) as u32);
        b.ue(2); // pic_order_cnt_type: output order = decoding order
        b.ue(1); // max_num_ref_frames
        b.flag(false); // gaps_in_frame_num_value_allowed_flag
        b.ue(self.columns - 1);
        b.ue(self.rows - 1); // pic_height_in_map_units_minus1
        b.flag(true); // frame_mbs_only_flag
        b.flag(true); // direct_8x8_inference_flag
        b.flag(false); // frame_cropping_flag
        b.flag(true); // vui_parameters_present_flag
        b.flag(false); // aspect_ratio_info_present_flag
        b.flag(false); // overscan_info_present_flag
        b.flag(false); // video_signal_type_present_flag
        b.flag(false); // chroma_loc_info_present_flag
        b.flag(true); // timing_info_present_flag
        b.u(32, 1); // num_units_in_tick
        b.u(32, 2 * self.frames_per_second); // time_scale: two ticks per frame
        b.flag(true); // fixed_frame_rate_flag
        b.flag(false); // nal_hrd_parameters_present_flag
        b.flag(false); // vcl_hrd_parameters_present_flag
        b.flag(false); // pic_struct_present_flag
        b.flag(true); // bitstream_restriction_flag
        b.flag(true); // motion_vectors_over_pic_boundaries_flag
        b.ue(0); // max_bytes_per_pic_denom
        b.ue(0); // max_bits_per_mb_denom
        b.ue(16); // log2_max_mv_length_horizontal
        b.ue(16); // log2_max_mv_length_vertical
        b.ue(0); // max_num_reorder_frames: no reordering
        b.ue(1); // max_dec_frame_buffering
        b.trailing()
    }

    /// The picture parameter set (CAVLC, deblocking control present so slices can turn it off).
    pub fn pps(&self) -> Vec<u8> {
        let mut b = Bits::default();
        b.ue(0); // pic_parameter_set_id
        b.ue(0); // seq_parameter_set_id
        b.flag(false); // entropy_coding_mode_flag: CAVLC
        b.flag(false); // bottom_field_pic_order_in_frame_present_flag
        b.ue(0); // num_slice_groups_minus1
        b.ue(0); // num_ref_idx_l0_default_active_minus1
        b.ue(0); // num_ref_idx_l1_default_active_minus1
        b.flag(false); // weighted_pred_flag
        b.u(2, 0); // weighted_bipred_idc
        b.se(0); // pic_init_qp_minus26
        b.se(0); // pic_init_qs_minus26
        b.se(0); // chroma_qp_index_offset
        b.flag(true); // deblocking_filter_control_present_flag
        b.flag(false); // constrained_intra_pred_flag
        b.flag(false); // redundant_pic_cnt_present_flag
        b.trailing()
    }

    /// One access unit for `picture`: an IDR when `keyframe` (or when nothing was coded yet),
    /// otherwise a P picture that skips every unchanged macroblock.
    pub fn encode(&mut self, picture: &Picture, keyframe: bool) -> Vec<u8> {
        assert_eq!(
            (picture.columns, picture.rows),
            (self.columns, self.rows),
            "picture size"
        );
        let previous = if keyframe { None } else { self.previous.take() };
        let mut out = Vec::new();
        match &previous {
            None => {
                write_nal(&mut out, 0, NAL_AUD, &[0x10]); // primary_pic_type 0: I
                write_nal(&mut out, 3, NAL_SPS, &self.sps());
                write_nal(&mut out, 3, NAL_PPS, &self.pps());
                self.frame_num = 0;
                let slice = self.slice(picture, None);
                write_nal(&mut out, 3, NAL_IDR, &slice);
                self.idr_pic_id = (self.idr_pic_id + 1) % 65_536;
            }
            Some(previous) => {
                write_nal(&mut out, 0, NAL_AUD, &[0x30]); // primary_pic_type 1: I, P
                self.frame_num = (self.frame_num + 1) % (1 << LOG2_MAX_FRAME_NUM);
                let slice = self.slice(picture, Some(previous));
                write_nal(&mut out, 2, NAL_SLICE, &slice);
            }
        }
        self.previous = Some(picture.clone());
        out
    }

    /// How each macroblock is coded: skipped when unchanged since `previous`, predicted when it
    /// repeats its upper or left neighbour (already decoded to the same colour), else raw.
    fn plan(&self, picture: &Picture, previous: Option<&Picture>) -> Vec<Coding> {
        let mut plan = Vec::with_capacity(picture.macroblocks.len());
        for row in 0..self.rows {
            for column in 0..self.columns {
                let colour = picture.at(column, row);
                plan.push(if previous.is_some_and(|p| p.at(column, row) == colour) {
                    Coding::Skip
                } else if row > 0 && picture.at(column, row - 1) == colour {
                    Coding::Vertical
                } else if column > 0 && picture.at(column - 1, row) == colour {
                    Coding::Horizontal
                } else {
                    Coding::Pcm
                });
            }
        }
        plan
    }

    fn slice(&self, picture: &Picture, previous: Option<&Picture>) -> Vec<u8> {
        let idr = previous.is_none();
        let mut b = Bits::default();
        // slice_header()
        b.ue(0); // first_mb_in_slice
        b.ue(if idr { 7 } else { 5 }); // slice_type: I or P (all slices of the picture)
        b.ue(0); // pic_parameter_set_id
        b.u(LOG2_MAX_FRAME_NUM, self.frame_num);
        if idr {
            b.ue(self.idr_pic_id);
        } else {
            b.flag(false); // num_ref_idx_active_override_flag
            b.flag(false); // ref_pic_list_modification_flag_l0
        }
        // dec_ref_pic_marking()
        if idr {
            b.flag(false); // no_output_of_prior_pics_flag
            b.flag(false); // long_term_reference_flag
        } else {
            b.flag(false); // adaptive_ref_pic_marking_mode_flag: sliding window
        }
        b.se(0); // slice_qp_delta
        b.ue(1); // disable_deblocking_filter_idc: off, so flat colours stay exact

        // slice_data()
        let plan = self.plan(picture, previous);
        let mb_type_offset = if idr { 0 } else { 5 }; // intra types follow the 5 P types
        let mut skip_run = 0;
        for row in 0..self.rows {
            for column in 0..self.columns {
                let index = (row * self.columns + column) as usize;
                let coding = plan[index];
                if coding == Coding::Skip {
                    skip_run += 1;
                    continue;
                }
                if !idr {
                    b.ue(skip_run); // mb_skip_run
                    skip_run = 0;
                }
                match coding {
                    Coding::Pcm => {
                        b.ue(mb_type_offset + 25); // I_PCM
                        b.align_zero(); // pcm_alignment_zero_bit
                        let Ycbcr(y, cb, cr) = picture.at(column, row);
                        b.bytes(&[y; 256]);
                        b.bytes(&[cb; 64]);
                        b.bytes(&[cr; 64]);
                    }
                    Coding::Vertical | Coding::Horizontal => {
                        let vertical = coding == Coding::Vertical;
                        // I_16x16_<pred>_0_0: pred mode 0 vertical, 1 horizontal; no AC coded.
                        b.ue(mb_type_offset + 1 + (!vertical) as u32);
                        b.ue(if vertical { 2 } else { 1 }); // intra_chroma_pred_mode
                        b.se(0); // mb_qp_delta
                                 // Intra16x16DCLevel: coeff_token for no coefficients at this nC.
                        let left = (column > 0).then(|| plan[index - 1].total_coeff());
                        let above =
                            (row > 0).then(|| plan[index - self.columns as usize].total_coeff());
                        let n_c = match (left, above) {
                            (Some(a), Some(b)) => (a + b + 1) >> 1,
                            (Some(a), None) => a,
                            (None, Some(b)) => b,
                            (None, None) => 0,
                        };
                        match n_c {
                            0..=1 => b.u(1, 0b1),
                            2..=3 => b.u(2, 0b11),
                            4..=7 => b.u(4, 0b1111),
                            _ => b.u(6, 0b000011),
                        }
                    }
                    Coding::Skip => unreachable!("skips are counted above"),
                }
            }
        }
        if skip_run > 0 {
            b.ue(skip_run);
        }
        b.trailing()
    }
}

/// Splits an Annex B stream into NAL units (header byte first), without start codes.
pub fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(stream.len(), |next| next - 3);
        while end > start && stream[end - 1] == 0 {
            end -= 1; // the leading zero of a 4-byte start code
        }
        units.push(&stream[start..end]);
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(f: impl FnOnce(&mut Bits)) -> Vec<u8> {
        let mut b = Bits::default();
        f(&mut b);
        b.bytes
    }

    #[test]
    fn exp_golomb_codes_match_the_table() {
        // ue: 0 -> 1, 1 -> 010, 2 -> 011, 3 -> 00100; packed: 1010 0110 0100 (pad 0000)
        assert_eq!(
            bits(|b| {
                for v in 0..4 {
                    b.ue(v)
                }
            }),
            vec![0b1010_0110, 0b0100_0000]
        );
        // se: 1 -> 010, -1 -> 011, 0 -> 1, 2 -> 00100
        assert_eq!(
            bits(|b| {
                b.se(1);
                b.se(-1);
                b.se(0);
                b.se(2);
            }),
            vec![0b0100_1110, 0b0100_0000]
        );
        // 3599 + 1 = 3600 needs 12 bits: 11 zeros then 1110 0001 0000.
        let long = bits(|b| b.ue(3599));
        assert_eq!(long, vec![0, 0b0001_1100, 0b0010_0000]);
    }

    #[test]
    fn emulation_prevention_escapes_start_code_prefixes() {
        let mut out = Vec::new();
        write_nal(&mut out, 0, NAL_AUD, &[0, 0, 1, 0, 0, 0, 5, 0, 0, 4]);
        assert_eq!(out, vec![0, 0, 0, 1, 9, 0, 0, 3, 1, 0, 0, 3, 0, 5, 0, 0, 4]);
    }

    #[test]
    fn a_keyframe_carries_aud_sps_pps_and_an_idr_slice_and_p_frames_are_tiny() {
        let mut encoder = Encoder::new(80, 45, 30);
        let bars = Picture::new(80, 45, |column, _| Ycbcr(100 + column as u8, 128, 128));
        let idr = encoder.encode(&bars, true);
        let types: Vec<u8> = nal_units(&idr).iter().map(|n| n[0] & 0x1F).collect();
        assert_eq!(types, vec![NAL_AUD, NAL_SPS, NAL_PPS, NAL_IDR]);
        // Every column differs, so one raw row (80 x 384 bytes) and the rest predicted.
        assert!(
            idr.len() > 80 * 384 && idr.len() < 80 * 384 + 8_000,
            "{}",
            idr.len()
        );
        let p = encoder.encode(&bars, false);
        let types: Vec<u8> = nal_units(&p).iter().map(|n| n[0] & 0x1F).collect();
        assert_eq!(types, vec![NAL_AUD, NAL_SLICE]);
        assert!(p.len() < 20, "an all-skip P picture is {} bytes", p.len());
    }
}
