//! Natural-image patches: grey photographs (the CC0 / public-domain ones listed in photos.tsv, or the user's own
//! PNGs) from which square patches are cut at seeded random places. Hebbian layers trained on such patches
//! learn edge-like receptive fields, and the convolutional labs can run on them where CIFAR-10 is not at hand.
use super::{Dataset, Shape, Split, Values, check_size};
use crate::error::{Error, FieldError, Result};
use crate::rng::{self, Purpose};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::io::Cursor;

/// The shipped photographs: file name, title, licence (photos.tsv is also read by scripts/setup.sh).
pub fn shipped() -> Vec<(&'static str, &'static str, &'static str)> {
    include_str!("photos.tsv")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, f.next()?, f.next()?))
        })
        .collect()
}

/// A decoded photograph in grey levels 0..=1.
#[derive(Clone, Debug, PartialEq)]
pub struct Photo {
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub grey: Vec<f32>,
}

/// The largest photo we decode: 8192² pixels (a 64-megapixel camera), refused before decoding beyond.
const MAX_PIXELS: u64 = 8192 * 8192;

impl Photo {
    /// Decodes a PNG (any colour type and bit depth) to grey with the ITU-R BT.601 luma weights; alpha is
    /// ignored. `name` is used in messages.
    pub fn from_png(name: &str, title: &str, bytes: &[u8]) -> Result<Self> {
        let bad =
            |e: png::DecodingError| Error::Data(format!("{name} is not a readable PNG image: {e}"));
        let mut decoder = png::Decoder::new(Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let header = decoder.read_header_info().map_err(bad)?;
        let (width, height) = (header.width, header.height);
        check_size(
            &format!("the photo {name} ({width}×{height})"),
            u64::from(width) * u64::from(height) * 4,
        )?;
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(Error::Data(format!(
                "{name} is {width}×{height}: at most 8192×8192 pixels"
            )));
        }
        let mut reader = decoder.read_info().map_err(bad)?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| Error::Data(format!("{name} is too large to decode")))?;
        let mut buf = vec![0u8; size];
        let info = reader.next_frame(&mut buf).map_err(bad)?;
        let channels = info.color_type.samples();
        let grey = buf
            .chunks_exact(info.line_size)
            .take(height as usize)
            .flat_map(|row| row.chunks_exact(channels).take(width as usize))
            .map(|px| match px.len() {
                1 | 2 => f32::from(px[0]) / 255.0,
                _ => {
                    (0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2]))
                        / 255.0
                }
            })
            .collect();
        Ok(Self {
            title: title.into(),
            width,
            height,
            grey,
        })
    }
}

/// What patches to cut.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Patches {
    /// Side of the square patches, in pixels.
    #[schemars(range(min = 2, max = 64))]
    pub size: u32,
    /// Patches in all, spread evenly over the photographs.
    #[schemars(range(min = 1, max = 100000))]
    pub count: u32,
}

impl Patches {
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !(2..=64).contains(&self.size) {
            e.push(FieldError::new(
                format!("{path}/size"),
                format!("patch side must be 2 to 64 pixels (got {})", self.size),
            ));
        }
        if !(1..=100_000).contains(&self.count) {
            e.push(FieldError::new(
                format!("{path}/count"),
                format!("1 to 100000 patches (got {})", self.count),
            ));
        }
        if u64::from(self.count) * u64::from(self.size).pow(2) > super::generate::MAX_VALUES {
            e.push(FieldError::new(
                path,
                format!(
                    "at most {} pixels in all; take fewer or smaller patches",
                    super::generate::MAX_VALUES
                ),
            ));
        }
        e
    }

    /// Cuts patch j from photo j mod (number of photos) at a uniformly drawn position (stream j of group 16).
    /// Labels name the photo each patch came from; the split is stratified per photo.
    pub fn cut(&self, photos: &[Photo], seed: u32) -> Result<Dataset> {
        if photos.is_empty() {
            return Err(Error::Data("no photographs to cut patches from".into()));
        }
        let s = self.size;
        if let Some(p) = photos.iter().find(|p| p.width < s || p.height < s) {
            return Err(Error::Data(format!(
                "the photo '{}' ({}×{}) is smaller than a {s}×{s} patch",
                p.title, p.width, p.height
            )));
        }
        let mut values = Vec::with_capacity(self.count as usize * (s * s) as usize);
        let mut labels = Vec::with_capacity(self.count as usize);
        for j in 0..self.count {
            let which = (j as usize) % photos.len();
            let p = &photos[which];
            let r = rng::philox4x32([j, 0, 0, 0], [seed, rng::stream(Purpose::Data, 16, 0)]);
            let x = (rng::uniform(r[0]) * (p.width - s + 1) as f32) as u32;
            let y = (rng::uniform(r[1]) * (p.height - s + 1) as f32) as u32;
            // uniform() < 1, but f32 rounding could still land on the edge: clamp.
            let (x, y) = (x.min(p.width - s), y.min(p.height - s));
            for row in y..y + s {
                let start = (row * p.width + x) as usize;
                values.extend_from_slice(&p.grey[start..start + s as usize]);
            }
            labels.push(which as u8);
        }
        let splits = Split::stratified(&labels);
        Dataset::new(
            format!("Natural-image patches ({s}×{s})"),
            photos
                .iter()
                .map(|p| p.title.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            Shape::image(1, s, s),
            photos.iter().map(|p| p.title.clone()).collect(),
            Values::Real(values),
            labels,
            splits,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    #[test]
    fn decodes_grey_and_colour_to_luma() {
        let g = Photo::from_png(
            "g.png",
            "g",
            &png(2, 1, png::ColorType::Grayscale, &[0, 255]),
        )
        .unwrap();
        assert_eq!(g.grey, vec![0.0, 1.0]);
        let c =
            Photo::from_png("c.png", "c", &png(1, 1, png::ColorType::Rgb, &[255, 0, 0])).unwrap();
        assert!((c.grey[0] - 0.299).abs() < 1e-6);
        let e = Photo::from_png("x.png", "x", b"not a png")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.png is not a readable PNG"), "{e}");
    }

    #[test]
    fn patches_are_seeded_crops() {
        let data: Vec<u8> = (0..64 * 48).map(|i| (i % 251) as u8).collect();
        let p = Photo::from_png("p", "p", &png(64, 48, png::ColorType::Grayscale, &data)).unwrap();
        let spec = Patches { size: 8, count: 20 };
        let d = spec.cut(std::slice::from_ref(&p), 5).unwrap();
        assert_eq!((d.len(), d.dim()), (20, 64));
        assert_eq!(
            d.values,
            spec.cut(std::slice::from_ref(&p), 5).unwrap().values
        );
        // Every patch is a contiguous crop: horizontally adjacent pixels differ by one grey level (mod 251).
        let row = d.rows(&[3]);
        let v = |i: usize| (row[[0, i]] * 255.0).round() as i32;
        assert!((v(1) - v(0) - 1).rem_euclid(251) == 0);
        let big = Patches { size: 64, count: 1 };
        assert!(
            big.cut(&[p], 1)
                .unwrap_err()
                .to_string()
                .contains("smaller than a 64×64 patch")
        );
    }
}
