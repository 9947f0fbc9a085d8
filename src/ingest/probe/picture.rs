//! Picture sizes from video elementary-stream headers (contract INGEST-021): the H.264 and H.265
//! sequence parameter sets, the MPEG-1/2 sequence header and the MPEG-4 Part 2 video object
//! layer. Used by
//! the MPEG-TS reader, whose container says nothing of the picture. The size is the displayed
//! one (after H.264 cropping), as ffprobe reports it.

/// Reads bits most significant first, with the Exp-Golomb codes of H.264.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Bits<'a> {
        Bits { data, at: 0 }
    }

    fn bit(&mut self) -> Option<u32> {
        let byte = self.data.get(self.at / 8)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Some(u32::from(bit))
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |value, _| Some(value << 1 | self.bit()?))
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.at += n;
        (self.at <= self.data.len() * 8).then_some(())
    }

    /// An unsigned Exp-Golomb code.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    /// A signed Exp-Golomb code.
    fn se(&mut self) -> Option<i32> {
        let code = self.ue()?;
        let magnitude = code.div_ceil(2) as i32;
        Some(if code % 2 == 1 { magnitude } else { -magnitude })
    }
}

/// The offsets just after each `00 00 01` start code in `es`.
fn start_codes(es: &[u8]) -> impl Iterator<Item = usize> + '_ {
    es.windows(3)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 1])
        .map(|(at, _)| at + 3)
}

/// The picture size of `codec` (ffprobe's name) from the start of its elementary stream, when
/// the header that carries it is there and readable.
pub(super) fn size(codec: &str, es: &[u8]) -> Option<(u32, u32)> {
    match codec {
        "h264" => start_codes(es)
            .filter(|&at| es.get(at).is_some_and(|h| h & 0x1f == 7))
            .find_map(|at| h264_sps_size(&unescape(&es[at + 1..]))),
        "mpeg1video" | "mpeg2video" => start_codes(es)
            .filter(|&at| es.get(at) == Some(&0xb3))
            .find_map(|at| {
                let b = es.get(at + 1..at + 4)?;
                let width = u32::from(b[0]) << 4 | u32::from(b[1]) >> 4;
                let height = (u32::from(b[1]) & 0x0f) << 8 | u32::from(b[2]);
                (width > 0 && height > 0).then_some((width, height))
            }),
        "hevc" => start_codes(es)
            .filter(|&at| es.get(at).is_some_and(|h| (h >> 1) & 0x3f == 33))
            .find_map(|at| hevc_sps_size(&unescape(es.get(at + 2..)?))),
        "mpeg4" => start_codes(es)
            .filter(|&at| es.get(at).is_some_and(|c| (0x20..=0x2f).contains(c)))
            .find_map(|at| mpeg4_vol_size(&es[at + 1..])),
        _ => None,
    }
}

/// The RBSP of a NAL unit: its bytes up to the next start code, emulation prevention removed.
fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len().min(256));
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        if zeros >= 2 && b <= 1 {
            // The next start code: the unit ends here.
            out.truncate(out.len() - 2);
            break;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// H.264 seq_parameter_set_rbsp (ITU-T H.264 7.3.2.1.1) up to the cropping window.
fn h264_sps_size(rbsp: &[u8]) -> Option<(u32, u32)> {
    let mut b = Bits::new(rbsp);
    let profile = b.bits(8)?;
    b.skip(16)?; // constraint flags, level
    b.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format = b.ue()?;
        if chroma_format == 3 {
            b.bit()?; // separate_colour_plane_flag
        }
        b.ue()?; // bit_depth_luma_minus8
        b.ue()?; // bit_depth_chroma_minus8
        b.bit()?; // qpprime_y_zero_transform_bypass_flag
        if b.bit()? == 1 {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for list in 0..lists {
                if b.bit()? == 1 {
                    skip_scaling_list(&mut b, if list < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    b.ue()?; // log2_max_frame_num_minus4
    match b.ue()? {
        0 => {
            b.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            b.bit()?; // delta_pic_order_always_zero_flag
            b.se()?; // offset_for_non_ref_pic
            b.se()?; // offset_for_top_to_bottom_field
            for _ in 0..b.ue()?.min(255) {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.bit()?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = b.ue()? + 1;
    let height_units = b.ue()? + 1;
    let frame_mbs_only = b.bit()?;
    if frame_mbs_only == 0 {
        b.bit()?; // mb_adaptive_frame_field_flag
    }
    b.bit()?; // direct_8x8_inference_flag
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if b.bit()? == 1 {
        (left, right, top, bottom) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
    }
    let field_factor = 2 - frame_mbs_only;
    let (crop_x, crop_y) = match chroma_format {
        1 => (2, 2 * field_factor),
        2 => (2, field_factor),
        _ => (1, field_factor),
    };
    let width = (width_mbs * 16).checked_sub(crop_x * (left + right))?;
    let height = (field_factor * height_units * 16).checked_sub(crop_y * (top + bottom))?;
    (width > 0 && height > 0).then_some((width, height))
}

/// H.265 seq_parameter_set_rbsp (ITU-T H.265 7.3.2.2.1) up to its conformance window.
fn hevc_sps_size(rbsp: &[u8]) -> Option<(u32, u32)> {
    let mut b = Bits::new(rbsp);
    b.bits(4)?; // sps_video_parameter_set_id
    let sub_layers = b.bits(3)? as usize; // sps_max_sub_layers_minus1
    b.bit()?; // sps_temporal_id_nesting_flag
    b.skip(96)?; // profile_tier_level(1, sub_layers): its general part
    let mut present = Vec::with_capacity(sub_layers);
    for _ in 0..sub_layers {
        present.push((b.bit()?, b.bit()?));
    }
    if sub_layers > 0 {
        b.skip(2 * (8 - sub_layers))?;
    }
    for (profile, level) in present {
        b.skip(88 * profile as usize + 8 * level as usize)?;
    }
    b.ue()?; // sps_seq_parameter_set_id
    let mut chroma_format = b.ue()?;
    if chroma_format == 3 && b.bit()? == 1 {
        chroma_format = 0; // separate colour planes: cropped in luma samples
    }
    let width = b.ue()?;
    let height = b.ue()?;
    let (mut left, mut right, mut top, mut bottom) = (0, 0, 0, 0);
    if b.bit()? == 1 {
        (left, right, top, bottom) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
    }
    let (sub_width, sub_height) = match chroma_format {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let width = width.checked_sub(sub_width * (left + right))?;
    let height = height.checked_sub(sub_height * (top + bottom))?;
    (width > 0 && height > 0).then_some((width, height))
}

/// Skips one scaling_list() of `size` coefficients.
fn skip_scaling_list(b: &mut Bits, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            next = (last + b.se()? + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// MPEG-4 Part 2 VideoObjectLayer() (ISO/IEC 14496-2 6.2.3) up to its width and height, for
/// rectangular layers.
fn mpeg4_vol_size(vol: &[u8]) -> Option<(u32, u32)> {
    let mut b = Bits::new(vol);
    b.bit()?; // random_accessible_vol
    b.bits(8)?; // video_object_type_indication
    let mut verid = 1;
    if b.bit()? == 1 {
        verid = b.bits(4)?;
        b.bits(3)?; // video_object_layer_priority
    }
    if b.bits(4)? == 0xf {
        b.bits(16)?; // par_width, par_height
    }
    if b.bit()? == 1 {
        b.bits(2)?; // chroma_format
        b.bit()?; // low_delay
        if b.bit()? == 1 {
            b.skip(79)?; // vbv_parameters
        }
    }
    let shape = b.bits(2)?;
    if shape == 3 && verid != 1 {
        b.bits(4)?; // video_object_layer_shape_extension
    }
    if shape != 0 {
        return None; // not rectangular: no single picture size
    }
    b.bit()?; // marker
    let resolution = b.bits(16)?;
    b.bit()?; // marker
    if b.bit()? == 1 {
        // fixed_vop_time_increment, as many bits as resolution − 1 needs (at least one).
        let bits = (32 - resolution.saturating_sub(1).leading_zeros()).max(1);
        b.bits(bits)?;
    }
    b.bit()?; // marker
    let width = b.bits(13)?;
    b.bit()?; // marker
    let height = b.bits(13)?;
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    // contract: INGEST-021
    #[test]
    fn exp_golomb_codes_read_as_h264_says() {
        // 1 | 010 | 011 | 00100 | 00101: ue 0, 1, 2, 3, 4.
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut b = Bits::new(&data);
        let codes: Vec<u32> = (0..5).map(|_| b.ue().unwrap()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4]);
        let mut b = Bits::new(&data);
        let signed: Vec<i32> = (0..5).map(|_| b.se().unwrap()).collect();
        assert_eq!(signed, vec![0, 1, -1, 2, -2]);
    }

    // contract: INGEST-021
    #[test]
    fn emulation_prevention_is_removed_and_the_unit_ends_at_the_next_start_code() {
        assert_eq!(
            unescape(&[0x64, 0, 0, 3, 1, 0x20, 0, 0, 1, 0x68]),
            vec![0x64, 0, 0, 1, 0x20]
        );
    }

    // contract: INGEST-021
    #[test]
    fn an_mpeg2_sequence_header_gives_its_size() {
        let es = [0, 0, 1, 0xb3, 0x2d, 0x01, 0xe0, 0x24];
        assert_eq!(size("mpeg2video", &es), Some((720, 480)));
        assert_eq!(size("mpeg2video", &es[..5]), None, "cut short");
        assert_eq!(size("vc1", &es), None, "not read here");
    }
}
