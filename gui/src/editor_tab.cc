#include "editor_tab.h"

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSaveFile>
#include <QSplitter>
#include <QTextCursor>
#include <QTimer>
#include <QVBoxLayout>

#include "findings_view.h"
#include "form_view.h"
#include "json_pane.h"

namespace eci::gui {

eci::Result<std::string> readFileBytes(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    return eci::Error("cannot open " + path.toStdString() + ": " + f.errorString().toStdString());
  }
  constexpr qint64 kMax = (qint64{4} << 20) + 1;  // one byte over the limit: the validator says so
  const QByteArray b = f.read(kMax);
  return std::string(b.constData(), static_cast<size_t>(b.size()));
}

eci::Status writeFileAtomically(const QString& path, std::string bytes) {
  // Docker Desktop refuses a byte order mark: never write one, whatever the text holds.
  if (bytes.rfind("\xEF\xBB\xBF", 0) == 0) bytes.erase(0, 3);
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly)) {
    return eci::Error("cannot write " + path.toStdString() + ": " + f.errorString().toStdString());
  }
  if (f.write(bytes.data(), static_cast<qint64>(bytes.size())) !=
          static_cast<qint64>(bytes.size()) ||
      !f.commit()) {
    return eci::Error("cannot write " + path.toStdString() + ": " + f.errorString().toStdString());
  }
  return {};
}

EditorTab::EditorTab(eci::settings::FileKind kind, QWidget* parent)
    : QWidget(parent), doc_(new Document(kind)) {
  setObjectName(kind == eci::settings::FileKind::kRegistry ? QStringLiteral("registryTab")
                                                           : QStringLiteral("settingsTab"));
  form_ = new FormView(doc_, this);
  json_ = new JsonPane(doc_, this);
  findings_ = new FindingsView(doc_, this);

  bar_ = new QWidget(this);
  bar_->setObjectName(QStringLiteral("externalChangeBar"));
  bar_->setAutoFillBackground(true);
  bar_->setStyleSheet(QStringLiteral("#externalChangeBar { background: #fde2e1; }"));
  barText_ = new QLabel(bar_);
  barText_->setWordWrap(true);
  auto* reload = new QPushButton(tr("Re&load"), bar_);
  reload->setObjectName(QStringLiteral("reloadButton"));
  reload->setAccessibleName(tr("Reload the file from disk (undoable)"));
  auto* merge = new QPushButton(tr("&Merge"), bar_);
  merge->setObjectName(QStringLiteral("mergeButton"));
  merge->setAccessibleName(tr("Merge the changes on disk into this document"));
  auto* keep = new QPushButton(tr("&Keep mine"), bar_);
  keep->setObjectName(QStringLiteral("keepButton"));
  keep->setAccessibleName(tr("Keep this document and ignore the change on disk"));
  auto* barLay = new QHBoxLayout(bar_);
  barLay->addWidget(barText_, 1);
  barLay->addWidget(reload);
  barLay->addWidget(merge);
  barLay->addWidget(keep);
  bar_->hide();
  connect(reload, &QPushButton::clicked, this, &EditorTab::reloadFromDisk);
  connect(merge, &QPushButton::clicked, this, &EditorTab::mergeFromDisk);
  connect(keep, &QPushButton::clicked, this, &EditorTab::keepMine);

  auto* panes = new QSplitter(Qt::Horizontal, this);
  panes->setObjectName(QStringLiteral("paneSplitter"));
  panes->addWidget(form_);
  panes->addWidget(json_);
  panes->setStretchFactor(0, 3);
  panes->setStretchFactor(1, 2);
  split_ = new QSplitter(Qt::Vertical, this);
  split_->addWidget(panes);
  split_->addWidget(findings_);
  split_->setStretchFactor(0, 4);
  split_->setStretchFactor(1, 1);
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(4, 4, 4, 4);
  lay->addWidget(bar_);
  lay->addWidget(split_, 1);

  connect(findings_, &FindingsView::findingActivated, this, &EditorTab::showFinding);
  connect(json_, &JsonPane::undoRequested, this, [this] { doc_->undoStack()->undo(); });
  connect(json_, &JsonPane::redoRequested, this, [this] { doc_->undoStack()->redo(); });
  // After undo/redo of a form edit, follow the field it was about.
  // Not while the user works in the form (an open editor must not lose its row), and later, not
  // from inside the model's own setData().
  connect(doc_, &Document::changed, this, [this](const QString& pointer) {
    QWidget* f = QApplication::focusWidget();
    if (pointer.isEmpty() || (f != nullptr && form_->isAncestorOf(f))) return;
    QTimer::singleShot(0, this, [this, pointer] { form_->selectPointer(pointer); });
  });
  connect(&watcher_, &QFileSystemWatcher::fileChanged, this, &EditorTab::onDiskEvent);
  connect(&watcher_, &QFileSystemWatcher::directoryChanged, this, &EditorTab::onDiskEvent);
  // Children are deleted in the order they were added: the document goes last, after every view
  // that refers to it.
  doc_->setParent(this);
}

void EditorTab::showFinding(const QString& pointer, eci::settings::Position pos) {
  form_->selectPointer(pointer);
  if (pos.line == 0) pos = doc_->report().parsed ? pos : eci::settings::Position{1, 1};
  json_->selectAt(pos);
}

bool EditorTab::nextFinding() {
  const auto& fs = doc_->report().findings;
  if (fs.empty()) return false;
  findingCursor_ = (findingCursor_ + 1) % static_cast<int>(fs.size());
  const auto& f = fs[static_cast<size_t>(findingCursor_)];
  findings_->setCurrentItem(findings_->topLevelItem(findingCursor_));
  showFinding(QString::fromStdString(f.pointer), f.position);
  return true;
}

void EditorTab::loadFrom(const QString& path, std::string bytes) {
  bar_->hide();
  doc_->load(std::move(bytes), path);
  watch();
}

eci::Status EditorTab::saveTo(const QString& path) {
  json_->flush();
  std::string bytes = doc_->text();
  if (bytes.rfind("\xEF\xBB\xBF", 0) == 0) bytes.erase(0, 3);
  // Our own write must not look like someone else's: the watcher compares with the baseline,
  // which markSaved() sets before the events arrive.
  const std::string before = doc_->baselineText();
  doc_->markSaved(bytes);
  if (auto st = writeFileAtomically(path, bytes); !st.ok()) {
    doc_->setBaseline(before);
    return st;
  }
  if (path != doc_->path()) doc_->setPath(path);
  bar_->hide();
  watch();
  return {};
}

void EditorTab::watch() {
  if (!watcher_.files().isEmpty()) watcher_.removePaths(watcher_.files());
  if (!watcher_.directories().isEmpty()) watcher_.removePaths(watcher_.directories());
  if (doc_->path().isEmpty()) return;
  // Editors and MDM agents replace files by rename, after which a file watch is gone: watch the
  // directory too and re-add the file on every event.
  watcher_.addPath(QFileInfo(doc_->path()).absolutePath());
  if (QFileInfo::exists(doc_->path())) watcher_.addPath(doc_->path());
}

void EditorTab::onDiskEvent() {
  if (doc_->path().isEmpty()) return;
  if (QFileInfo::exists(doc_->path()) && !watcher_.files().contains(doc_->path())) {
    watcher_.addPath(doc_->path());
  }
  auto bytes = readFileBytes(doc_->path());
  if (!bytes.ok()) {
    barText_->setText(tr("%1 was removed or cannot be read on disk.").arg(doc_->path()));
    diskBytes_.clear();
    bar_->show();
    emit externalChangeDetected(doc_->path());
    return;
  }
  if (*bytes == doc_->baselineText() || *bytes == diskBytes_) return;  // ours, or already shown
  diskBytes_ = *bytes;
  barText_->setText(
      doc_->modified()
          ? tr("%1 changed on disk, and this document has unsaved changes.").arg(doc_->path())
          : tr("%1 changed on disk.").arg(doc_->path()));
  bar_->show();
  emit externalChangeDetected(doc_->path());
}

void EditorTab::reloadFromDisk() {
  if (diskBytes_.empty()) return;
  doc_->setTextUndoable(diskBytes_, tr("Reload %1 from disk").arg(doc_->label()));
  doc_->markSaved(diskBytes_);
  diskBytes_.clear();
  bar_->hide();
}

void EditorTab::mergeFromDisk() {
  if (diskBytes_.empty()) return;
  auto theirs = parseOrdered(diskBytes_);
  if (!theirs || !doc_->editable()) {
    barText_->setText(tr("Cannot merge: one side does not parse. Reload or keep yours."));
    return;
  }
  const MergeResult m = merge3(doc_->baseline(), doc_->json(), *theirs);
  doc_->setTextUndoable(dumpText(m.merged), tr("Merge changes from disk"));
  doc_->setBaseline(diskBytes_);
  diskBytes_.clear();
  if (m.conflicts.empty()) {
    bar_->hide();
  } else {
    QStringList c;
    for (const auto& p : m.conflicts) c << QString::fromStdString(p);
    barText_->setText(tr("Merged %1 change(s); kept yours where both changed: %2")
                          .arg(m.applied.size())
                          .arg(c.join(QStringLiteral(", "))));
  }
}

void EditorTab::keepMine() {
  if (!diskBytes_.empty()) doc_->setBaseline(diskBytes_);
  diskBytes_.clear();
  bar_->hide();
}

}  // namespace eci::gui
