//! Segments: an index as a list of block indexes, each over a contiguous range of internal ids
//! (`build` makes one, every `add` appends one), plus tombstones for deleted documents.
//!
//! Search runs the BMP search on every segment, in insertion order, with the same `k` and merges
//! the per-segment top-k lists into one (score desc, then lower internal id = earlier
//! insertion): the global top-k is contained in the union of the per-segment top-k lists, so
//! `alpha = 1` stays exact. The merged k-th score so far is carried into the next segment as an
//! exclusive floor (its documents have higher ids, so they must beat it, not tie it), so later
//! segments prune against the threshold the earlier ones reached instead of starting at zero.
//! Deleted documents are excluded through the same position bitset a `filter` uses, so they
//! never appear and never take a result slot (a segment with deletions therefore searches
//! without threshold seeding, as a filtered search does, until `compact()`).

use super::blocks::{BlockIndex, Impact, SearchParams};
use crate::ids::{ExternalId, IdMap};
use crate::io::{ByteReader, ByteWriter, Container, ContainerWriter};
use crate::topk::{Scored, TopMax};
use crate::{Error, Result};
use std::sync::Arc;

/// Most segments an index holds; the `add` that would exceed it compacts the index instead.
pub const MAX_SEGMENTS: usize = 64;

/// Tag prefixes of segments 1.. (printable, so `info` shows readable tags); neither `B` nor
/// `S`, the first segment's prefix of BM25 and sparse indexes.
const SEGMENT_PREFIXES: &[u8; MAX_SEGMENTS] =
  b"0123456789abcdefghijklmnopqrstuvwxyzACDEFGHIJKLMNOPQRTUVWXYZ+-=~";

/// The immutable part of a segment, shared (not copied) when an index is cloned, so a
/// copy-on-write update costs the bookkeeping, not the postings.
#[derive(Debug)]
struct SegmentData<T: Impact> {
  blocks: BlockIndex<T>,
  /// Position → local id (empty: identity, the segment is not reordered).
  pos_to_id: Vec<u32>,
  /// Local id → position (empty with `pos_to_id`).
  id_to_pos: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct Segment<T: Impact> {
  /// Internal id of the segment's first document (local id 0).
  start: u32,
  data: Arc<SegmentData<T>>,
  /// Live documents by position; `None` while none of the segment's documents is deleted.
  /// Shared between snapshots: a delete copies this bitmap (n/8 bytes) once per call and
  /// segment it touches, never the postings or the id map.
  alive: Option<Arc<Vec<u64>>>,
  dead: u32,
}

impl<T: Impact> Segment<T> {
  /// A segment starting at internal id `start`; `pos_to_id` is a permutation or empty.
  pub fn new(start: u32, blocks: BlockIndex<T>, pos_to_id: Vec<u32>) -> Result<Self> {
    let n = blocks.n_docs();
    let id_to_pos = if pos_to_id.is_empty() {
      Vec::new()
    } else {
      if pos_to_id.len() != n {
        return Err(Error::corrupt(
          "permutation length differs from the document count",
        ));
      }
      let mut inv = vec![u32::MAX; n];
      for (pos, &id) in pos_to_id.iter().enumerate() {
        if id as usize >= n || inv[id as usize] != u32::MAX {
          return Err(Error::corrupt("permutation is not a permutation"));
        }
        inv[id as usize] = pos as u32;
      }
      inv
    };
    Ok(Segment {
      start,
      data: Arc::new(SegmentData {
        blocks,
        pos_to_id,
        id_to_pos,
      }),
      alive: None,
      dead: 0,
    })
  }

  pub fn start(&self) -> u32 {
    self.start
  }
  /// Documents in the segment, deleted ones included.
  pub fn len(&self) -> usize {
    self.data.blocks.n_docs()
  }
  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }
  pub fn blocks(&self) -> &BlockIndex<T> {
    &self.data.blocks
  }
  pub fn is_reordered(&self) -> bool {
    !self.data.pos_to_id.is_empty()
  }
  pub fn position(&self, local: u32) -> usize {
    if self.data.id_to_pos.is_empty() {
      local as usize
    } else {
      self.data.id_to_pos[local as usize] as usize
    }
  }
  pub fn local_id(&self, pos: usize) -> u32 {
    if self.data.pos_to_id.is_empty() {
      pos as u32
    } else {
      self.data.pos_to_id[pos]
    }
  }
  pub fn is_alive(&self, local: u32) -> bool {
    let p = self.position(local);
    self.alive.as_ref().is_none_or(|a| a[p / 64] >> (p % 64) & 1 == 1)
  }
  /// The live-position bitset handed to the block search (none while nothing is deleted).
  fn alive_bits(&self) -> Option<&[u64]> {
    self.alive.as_ref().map(|a| a.as_slice())
  }
  /// Deleted documents in this segment.
  pub fn dead(&self) -> usize {
    self.dead as usize
  }

  fn kill(&mut self, local: u32) -> bool {
    let n = self.len();
    let p = self.position(local);
    let shared = self.alive.get_or_insert_with(|| {
      let mut bits = vec![u64::MAX; n.div_ceil(64)];
      if !n.is_multiple_of(64) {
        if let Some(last) = bits.last_mut() {
          *last = (1u64 << (n % 64)) - 1;
        }
      }
      Arc::new(bits)
    });
    // Copy-on-write: a snapshot a search still holds keeps its own bitmap.
    let a = Arc::make_mut(shared);
    let was = a[p / 64] >> (p % 64) & 1 == 1;
    a[p / 64] &= !(1u64 << (p % 64));
    if was {
      self.dead += 1;
    }
    was
  }
}

/// Allowed documents of one search: a position bitset per segment, deletions already removed.
#[derive(Clone, Debug)]
pub struct Filter(Vec<Vec<u64>>);

#[derive(Clone, Debug)]
pub struct Segments<T: Impact> {
  segs: Vec<Segment<T>>,
}

impl<T: Impact> Default for Segments<T> {
  fn default() -> Self {
    Segments { segs: Vec::new() }
  }
}

impl<T: Impact> Segments<T> {
  pub fn new() -> Self {
    Self::default()
  }
  /// Appends a segment; it must start where the previous one ends. Empty segments are dropped.
  pub fn push(&mut self, s: Segment<T>) {
    debug_assert_eq!(
      s.start as usize,
      self.n_docs(),
      "segments cover consecutive internal ids"
    );
    if !s.is_empty() {
      self.segs.push(s);
    }
  }
  pub fn list(&self) -> &[Segment<T>] {
    &self.segs
  }
  /// Number of segments.
  pub fn count(&self) -> usize {
    self.segs.len()
  }
  /// Documents in all segments, deleted ones included.
  pub fn n_docs(&self) -> usize {
    self.segs.last().map_or(0, |s| s.start as usize + s.len())
  }
  pub fn n_dead(&self) -> usize {
    self.segs.iter().map(|s| s.dead()).sum()
  }
  pub fn n_postings(&self) -> usize {
    self.segs.iter().map(|s| s.data.blocks.n_postings()).sum()
  }
  /// Largest term count over the segments (query terms at or above it match nothing).
  pub fn n_terms(&self) -> usize {
    self
      .segs
      .iter()
      .map(|s| s.data.blocks.n_terms())
      .max()
      .unwrap_or(0)
  }

  /// (segment, local id) of an internal id.
  pub fn locate(&self, internal: u32) -> Option<(usize, u32)> {
    let i = self
      .segs
      .partition_point(|s| s.start <= internal)
      .checked_sub(1)?;
    let s = &self.segs[i];
    ((internal - s.start) < s.len() as u32).then_some((i, internal - s.start))
  }

  pub fn is_alive(&self, internal: u32) -> bool {
    self
      .locate(internal)
      .is_some_and(|(i, l)| self.segs[i].is_alive(l))
  }

  /// Deletes documents by external id; returns how many live documents were deleted. Unknown
  /// ids (never added, already deleted, or of the other id type) are ignored. Shared by the
  /// BM25 and learned-sparse indexes.
  ///
  /// Only the tombstone bitmaps change: `ids` keeps the deleted ids bound (so a delete never
  /// copies the id map of a shared snapshot), every reader checks liveness, and
  /// [`ids_for_add`](Self::ids_for_add) frees a deleted id when it is added again.
  pub fn delete_external(&mut self, ids: &IdMap, external: &[ExternalId]) -> usize {
    external
      .iter()
      .filter(|id| ids.lookup(id).is_some_and(|i| self.delete(i)))
      .count()
  }

  /// Checks that `external` can be added to `ids` (none names a live document or repeats)
  /// and returns the id map to commit with [`commit_ids`]: `None` when `ids` serves as it is,
  /// or a copy with the ids of deleted documents that the batch re-adds unbound (the only case
  /// that copies the map). Nothing changes here, so a later failure leaves the index intact.
  pub fn ids_for_add(&self, ids: &IdMap, external: &[ExternalId]) -> Result<Option<IdMap>> {
    let names_dead = self.n_dead() > 0
      && external
        .iter()
        .any(|id| ids.lookup(id).is_some_and(|i| !self.is_alive(i)));
    let released = names_dead.then(|| {
      let mut m = ids.clone();
      for id in external {
        if let Some(i) = m.lookup(id) {
          if !self.is_alive(i) {
            m.unbind(i);
          }
        }
      }
      m
    });
    released.as_ref().unwrap_or(ids).check_new(external)?;
    Ok(released)
  }

  /// Tombstones `internal`; false if it was already deleted or does not exist.
  pub fn delete(&mut self, internal: u32) -> bool {
    match self.locate(internal) {
      Some((i, l)) => self.segs[i].kill(l),
      None => false,
    }
  }

  /// Sorted internal ids of the deleted documents.
  pub fn dead_ids(&self) -> Vec<u32> {
    let mut out = Vec::with_capacity(self.n_dead());
    for s in &self.segs {
      if s.dead > 0 {
        for local in 0..s.len() as u32 {
          if !s.is_alive(local) {
            out.push(s.start + local);
          }
        }
      }
    }
    out
  }

  /// The filter allowing exactly the live documents among `allowed` (internal ids).
  pub fn filter(&self, allowed: impl IntoIterator<Item = u32>) -> Filter {
    let mut bits: Vec<Vec<u64>> = self
      .segs
      .iter()
      .map(|s| vec![0u64; s.len().div_ceil(64)])
      .collect();
    for internal in allowed {
      if let Some((i, l)) = self.locate(internal) {
        let p = self.segs[i].position(l);
        bits[i][p / 64] |= 1 << (p % 64);
      }
    }
    for (b, s) in bits.iter_mut().zip(&self.segs) {
      if let Some(a) = s.alive_bits() {
        for (w, &m) in b.iter_mut().zip(a) {
          *w &= m;
        }
      }
    }
    Filter(bits)
  }

  /// Merged top `k` over all segments for `query` (sorted unique terms, weights > 0), as
  /// internal ids. Same contract as [`BlockIndex::search`]; beta prunes the query once here,
  /// so every segment scores the same terms.
  pub fn search(
    &self,
    query: &[(u32, f32)],
    k: usize,
    params: &SearchParams,
    filter: Option<&Filter>,
  ) -> Vec<Scored<f32>> {
    let nt = self.n_terms() as u32;
    let mut q: Vec<(u32, f32)> = query
      .iter()
      .copied()
      .filter(|&(t, w)| t < nt && w > 0.0)
      .collect();
    if params.beta < 1.0 && !q.is_empty() {
      let keep = ((q.len() as f64 * params.beta as f64).ceil() as usize).clamp(1, q.len());
      q.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
      q.truncate(keep);
      q.sort_by_key(|e| e.0);
    }
    let per_segment = SearchParams { beta: 1.0, ..*params };
    if let [s] = self.segs.as_slice() {
      let allowed = filter.map(|f| f.0[0].as_slice()).or(s.alive_bits());
      let mut hits = s
        .data
        .blocks
        .search(&q, k, &per_segment, allowed, &s.data.pos_to_id);
      for h in &mut hits {
        h.id += s.start;
      }
      return hits;
    }
    let mut top = TopMax::<f32>::new(k);
    for (i, s) in self.segs.iter().enumerate() {
      let allowed = filter.map(|f| f.0[i].as_slice()).or(s.alive_bits());
      if allowed.is_some_and(|a| a.iter().all(|&w| w == 0)) {
        continue;
      }
      // The merged k-th score so far is carried in as an exclusive floor: this segment's ids
      // are all above the earlier segments', so a tie with it loses (see `search_above`).
      // The exhaustive scan stays a plain scan of every block.
      let floor = if params.exhaustive {
        0.0
      } else {
        top.threshold().unwrap_or(0.0)
      };
      for h in s
        .data
        .blocks
        .search_above(&q, k, &per_segment, allowed, &s.data.pos_to_id, floor)
      {
        top.push(h.score, s.start + h.id);
      }
    }
    top.into_sorted()
  }

  /// Bytes by component, summed over segments, plus the segment bookkeeping. `empty_names`:
  /// the block index's components to list (at 0) when there is no segment, so an empty index
  /// names the components its layout would have.
  pub fn memory_usage(&self, empty_names: &[&'static str]) -> Vec<(&'static str, usize)> {
    let mut v: Vec<(&'static str, usize)> = Vec::new();
    for s in &self.segs {
      for (name, bytes) in s.data.blocks.memory_usage() {
        match v.iter_mut().find(|e| e.0 == name) {
          Some(e) => e.1 += bytes,
          None => v.push((name, bytes)),
        }
      }
    }
    if v.is_empty() {
      // No segment (an empty index): the layout's component names, all zero.
      v = empty_names.iter().map(|&n| (n, 0)).collect();
    }
    v.push((
      "reorder",
      self
        .segs
        .iter()
        .map(|s| (s.data.pos_to_id.len() + s.data.id_to_pos.len()) * 4)
        .sum(),
    ));
    v.push(("segments", self.segs.len() * std::mem::size_of::<Segment<T>>()));
    v.push((
      "tombstones",
      self
        .segs
        .iter()
        .map(|s| s.alive.as_ref().map_or(0, |a| a.len() * 8))
        .sum(),
    ));
    v
  }

  /// Section-tag prefix of segment `i`: segment 0 keeps the single-segment layout's `base`
  /// (so older files read as one segment); later ones take the next character of
  /// [`SEGMENT_PREFIXES`]. No block-section suffix (`MTA`, `BPT`, …) completes another tag
  /// (`VOCB`, `IDS_`, `STAT`, `PERM`, `SEGS`, `DEAD`, `TFRQ`), so tags never collide.
  fn prefix(base: u8, i: usize) -> u8 {
    if i == 0 {
      base
    } else {
      SEGMENT_PREFIXES[i - 1]
    }
  }

  /// Writes `SEGS` (segment sizes), `PERM` (concatenated permutations), `DEAD` (sorted dead
  /// internal ids) and each segment's block sections.
  pub fn write(&self, w: &mut ContainerWriter, base: u8) {
    let mut meta = ByteWriter::new();
    meta.put(self.segs.len() as u32);
    for s in &self.segs {
      meta.put(s.len() as u32);
    }
    w.section(b"SEGS", meta.into_bytes());
    let mut perm = ByteWriter::new();
    for s in &self.segs {
      perm.put_raw(&s.data.pos_to_id);
    }
    w.section(b"PERM", perm.into_bytes());
    let mut dead = ByteWriter::new();
    dead.put_raw(&self.dead_ids());
    w.section(b"DEAD", dead.into_bytes());
    for (i, s) in self.segs.iter().enumerate() {
      s.data.blocks.write(w, Self::prefix(base, i));
    }
  }

  /// Reads what [`write`](Self::write) wrote. A file without `SEGS` is the single-segment
  /// layout: one segment with prefix `base` (and its `PERM`), nothing deleted.
  /// `reordered`: whether every segment carries a permutation.
  pub fn read(c: &Container<'_>, base: u8, reordered: bool) -> Result<Self> {
    let sizes: Vec<usize> = match c.optional_section(b"SEGS") {
      Some(b) => {
        let mut r = ByteReader::new(b);
        let count = r.get::<u32>("segment count")? as usize;
        if count > MAX_SEGMENTS {
          return Err(Error::corrupt(format!(
            "{count} segments is more than an index holds"
          )));
        }
        let sizes = (0..count)
          .map(|_| r.get::<u32>("segment size").map(|n| n as usize))
          .collect::<Result<Vec<_>>>()?;
        r.finish("segment table")?;
        sizes
      }
      None => vec![usize::MAX],
    };
    let perm_b = c.section(b"PERM")?;
    if perm_b.len() % 4 != 0 {
      return Err(Error::corrupt("permutation section is not a whole number of u32"));
    }
    let perm: Vec<u32> = ByteReader::new(perm_b).get_raw(perm_b.len() / 4, "permutation")?;
    let mut out = Segments::new();
    let mut at = 0usize;
    for (i, &size) in sizes.iter().enumerate() {
      let blocks = BlockIndex::<T>::read(c, Self::prefix(base, i))?;
      let n = blocks.n_docs();
      if size != usize::MAX && size != n {
        return Err(Error::corrupt(format!(
          "segment {i} holds {n} documents, the segment table says {size}"
        )));
      }
      if n == 0 && sizes.len() > 1 {
        return Err(Error::corrupt(format!("segment {i} is empty")));
      }
      let p = if reordered {
        let p = perm
          .get(at..at + n)
          .ok_or_else(|| Error::corrupt("permutation shorter than the documents"))?
          .to_vec();
        at += n;
        p
      } else {
        Vec::new()
      };
      let start =
        crate::validate::to_u32(out.n_docs(), "document count").map_err(|e| Error::corrupt(e.to_string()))?;
      let seg = Segment::new(start, blocks, p)?;
      if seg.is_empty() {
        continue;
      }
      out.segs.push(seg);
    }
    if at != perm.len() {
      return Err(Error::corrupt(if reordered {
        "permutation longer than the documents"
      } else {
        "permutation present in an index that is not reordered"
      }));
    }
    if let Some(d) = c.optional_section(b"DEAD") {
      if d.len() % 4 != 0 {
        return Err(Error::corrupt("deleted-id section is not a whole number of u32"));
      }
      let dead: Vec<u32> = ByteReader::new(d).get_raw(d.len() / 4, "deleted ids")?;
      if dead.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::corrupt("deleted ids are not sorted and unique"));
      }
      for id in dead {
        if !out.delete(id) {
          return Err(Error::corrupt(format!(
            "deleted id {id} is beyond the document count"
          )));
        }
      }
    }
    Ok(out)
  }
}

/// Commits a batch's ids checked by [`Segments::ids_for_add`]: `released` (if any) replaces the
/// shared map, then the new ids are appended (copy-on-write if a snapshot shares the map).
pub fn commit_ids(ids: &mut Arc<IdMap>, released: Option<IdMap>, external: Vec<ExternalId>) {
  if let Some(m) = released {
    *ids = Arc::new(m);
  }
  Arc::make_mut(ids).push_checked(external);
}
