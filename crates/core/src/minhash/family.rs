//! The hash family of MinHash signatures: the scheme and seed of the hasher that made them.
//! Two signatures compare slot by slot only within one family; across families the slots are
//! unrelated numbers, so an index that mixed them would return wrong matches without any
//! error. An index therefore records the family of the signatures it holds (when the caller
//! knows it) and refuses signatures of another family.

use super::sketch::{MinHasher, Scheme};
use crate::io::{ByteReader, ByteWriter};
use crate::{Error, Result};

/// Tag of the optional container section that stores an index's family.
pub const FAMILY_SECTION: &[u8; 4] = b"FAMI";

/// Scheme and seed of a hasher (`numPerm` is checked separately, by signature length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureFamily {
  pub scheme: Scheme,
  pub seed: u64,
}

impl SignatureFamily {
  pub fn of(hasher: &MinHasher) -> Self {
    let o = hasher.options();
    SignatureFamily {
      scheme: o.scheme,
      seed: o.seed,
    }
  }

  fn describe(&self) -> String {
    format!("scheme '{}', seed {}", self.scheme.name(), self.seed)
  }

  pub(super) fn to_bytes(self) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.put(self.scheme.code()).put(self.seed);
    w.into_bytes()
  }

  pub(super) fn from_bytes(bytes: &[u8]) -> Result<Self> {
    let mut r = ByteReader::new(bytes);
    let code = r.get::<u8>("family scheme")?;
    let seed = r.get::<u64>("family seed")?;
    r.finish("family")?;
    let scheme =
      Scheme::from_code(code).ok_or_else(|| Error::corrupt(format!("unknown MinHash scheme code {code}")))?;
    Ok(SignatureFamily { scheme, seed })
  }
}

/// The family an index holds: unknown until the first signatures of a known family arrive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FamilySlot(Option<SignatureFamily>);

impl FamilySlot {
  pub fn get(&self) -> Option<SignatureFamily> {
    self.0
  }

  /// Refuses `incoming` if it is known and differs from the index's family (records nothing).
  pub fn check(&self, incoming: Option<SignatureFamily>) -> Result<()> {
    match (self.0, incoming) {
      (Some(held), Some(new)) if held != new => Err(Error::SignatureMismatch(format!(
        "the signatures come from a hasher with {}, but this index holds signatures of {}: \
         slots of different hashers are unrelated, so they cannot be compared",
        new.describe(),
        held.describe()
      ))),
      _ => Ok(()),
    }
  }

  /// Records `incoming` as the index's family if none is known yet (after [`FamilySlot::check`]).
  pub fn adopt(&mut self, incoming: Option<SignatureFamily>) {
    if self.0.is_none() {
      self.0 = incoming;
    }
  }

  /// The family of the union of two indexes; errors when both are known and differ.
  pub fn merge(&mut self, other: FamilySlot) -> Result<()> {
    self.check(other.0)?;
    self.adopt(other.0);
    Ok(())
  }

  /// The optional section's payload (none when the family is unknown).
  pub(super) fn section(&self) -> Option<Vec<u8>> {
    self.0.map(SignatureFamily::to_bytes)
  }

  pub(super) fn from_section(section: Option<&[u8]>) -> Result<Self> {
    section
      .map(SignatureFamily::from_bytes)
      .transpose()
      .map(FamilySlot)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const OPH1: SignatureFamily = SignatureFamily {
    scheme: Scheme::Oph,
    seed: 1,
  };
  const OPH2: SignatureFamily = SignatureFamily {
    scheme: Scheme::Oph,
    seed: 2,
  };
  const DS1: SignatureFamily = SignatureFamily {
    scheme: Scheme::Datasketch,
    seed: 1,
  };

  #[test]
  fn a_slot_adopts_the_first_known_family_and_refuses_others() {
    let mut slot = FamilySlot::default();
    assert!(slot.check(Some(OPH1)).is_ok());
    slot.adopt(None);
    assert_eq!(slot.get(), None);
    slot.adopt(Some(OPH1));
    assert_eq!(slot.get(), Some(OPH1));
    slot.adopt(Some(OPH2)); // adopt never overwrites
    assert_eq!(slot.get(), Some(OPH1));
    assert!(slot.check(Some(OPH1)).is_ok());
    assert!(slot.check(None).is_ok(), "unknown families are not refused");
    for other in [OPH2, DS1] {
      let err = slot.check(Some(other)).unwrap_err();
      assert_eq!(err.code(), "ERR_SLIMDEX_SIGNATURE_MISMATCH");
      assert!(err.to_string().contains("seed 1"), "{err}");
    }
    let mut unknown = FamilySlot::default();
    unknown.merge(slot).unwrap();
    assert_eq!(unknown.get(), Some(OPH1));
    let mut two = FamilySlot(Some(OPH2));
    assert!(two.merge(slot).is_err());
    assert_eq!(two.get(), Some(OPH2));
  }

  #[test]
  fn the_section_round_trips_and_bad_bytes_are_corrupt() {
    for f in [
      OPH1,
      DS1,
      SignatureFamily {
        scheme: Scheme::Classic,
        seed: u64::MAX,
      },
    ] {
      let slot = FamilySlot(Some(f));
      let bytes = slot.section().unwrap();
      assert_eq!(FamilySlot::from_section(Some(&bytes)).unwrap(), slot);
    }
    assert_eq!(FamilySlot::default().section(), None);
    assert_eq!(FamilySlot::from_section(None).unwrap(), FamilySlot::default());
    let mut bad = FamilySlot(Some(OPH1)).section().unwrap();
    bad[0] = 9;
    let err = FamilySlot::from_section(Some(&bad)).unwrap_err();
    assert_eq!(err.code(), "ERR_SLIMDEX_CORRUPT_FILE");
    let good = FamilySlot(Some(OPH1)).section().unwrap();
    assert!(FamilySlot::from_section(Some(&good[..5])).is_err());
    let mut long = good.clone();
    long.push(0);
    assert!(FamilySlot::from_section(Some(&long)).is_err());
  }
}
