/* ct_vtk.cxx — the one C++ file that talks to VTK: .vtu writing (atomic, zlib, appended binary)
 * and reading, behind the C API of ct_vtk.h.
 *
 * Every entry point catches all C++ exceptions and turns them into a ct_status. VTK reports errors by
 * firing ErrorEvent on the object at fault (and printing to stderr if nobody listens); an observer
 * (ct_vtk_error_capture) listens on the writer, reader and XML parser, so the text lands in the
 * ct_error message instead of on the terminal.
 */
#include "ct_vtk.h"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vtkAlgorithm.h>
#include <vtkCallbackCommand.h>
#include <vtkCellArray.h>
#include <vtkCellData.h>
#include <vtkCellTypes.h>
#include <vtkCommand.h>
#include <vtkDataArray.h>
#include <vtkDoubleArray.h>
#include <vtkErrorCode.h>
#include <vtkExecutive.h>
#include <vtkIdList.h>
#include <vtkIdTypeArray.h>
#include <vtkNew.h>
#include <vtkObjectFactory.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkUnstructuredGrid.h>
#include <vtkXMLDataElement.h>
#include <vtkXMLDataParser.h>
#include <vtkXMLUnstructuredGridReader.h>
#include <vtkXMLUnstructuredGridWriter.h>

namespace {

/* ---- capture of VTK error text ---------------------------------------------------------------- */

struct ct_vtk_error_capture {
    std::string text; /* messages joined by "; " */
    vtkNew<vtkCallbackCommand> command;

    vtkNew<vtkCallbackCommand> discard;

    ct_vtk_error_capture()
    {
        command->SetCallback(&ct_vtk_error_capture::on_event);
        command->SetClientData(this);
        discard->SetCallback([](vtkObject *, unsigned long, void *, void *) {});
    }
    /* Captures the errors of `algo` and its XML parts; silences its pipeline executive, whose only
     * message ("Algorithm ... returned failure for request: <dump>") repeats what `algo` said. */
    void watch(vtkAlgorithm *algo)
    {
        algo->AddObserver(vtkCommand::ErrorEvent, command);
        algo->GetExecutive()->AddObserver(vtkCommand::ErrorEvent, discard);
    }

    static void on_event(vtkObject *, unsigned long, void *client, void *call_data)
    {
        auto *self = static_cast<ct_vtk_error_capture *>(client);
        const char *msg = static_cast<const char *>(call_data);
        if (msg == nullptr)
            return;
        /* VTK's text is "ERROR: In <source>, line N\n<Class> (0x<addr>): <message>\n\n";
         * keep "<Class>: <message>". */
        std::string m(msg);
        if (m.compare(0, 10, "ERROR: In ") == 0 && m.find('\n') != std::string::npos)
            m.erase(0, m.find('\n') + 1);
        const size_t addr = m.find(" (0x");
        if (addr != std::string::npos) {
            size_t end = addr + 4;
            while (end < m.size() && std::isxdigit(static_cast<unsigned char>(m[end])))
                ++end;
            if (end < m.size() && m[end] == ')')
                m.erase(addr, end + 1 - addr);
        }
        while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
            m.pop_back();
        if (!self->text.empty())
            self->text += "; ";
        self->text += m;
    }
    /* The captured text, or `fallback` if VTK said nothing. */
    const char *or_else(const char *fallback) const { return text.empty() ? fallback : text.c_str(); }
};

/* ---- argument checks -------------------------------------------------------------------------- */

ct_status check_fields(const char *path, const char *where, const ct_vtk_field *fields, int n_fields,
                       size_t n_items)
{
    if (n_fields < 0)
        return ct_error_set(CT_ERR_INTERNAL, "%s: n_%s_fields = %d is negative", path, where, n_fields);
    if (n_fields > 0 && fields == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "%s: %d %s fields but the array is NULL", path, n_fields,
                            where);
    for (int i = 0; i < n_fields; ++i) {
        const ct_vtk_field &f = fields[i];
        if (f.name == nullptr || f.name[0] == '\0')
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field #%d has no name", path, where, i);
        if (f.n_components < 1)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": n_components = %d, must be >= 1",
                                path, where, f.name, f.n_components);
        if (f.data == nullptr && n_items > 0)
            return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\": data is NULL", path, where, f.name);
        for (int j = 0; j < i; ++j)
            if (std::strcmp(fields[j].name, f.name) == 0)
                return ct_error_set(CT_ERR_INTERNAL, "%s: %s field \"%s\" appears twice", path, where,
                                    f.name);
    }
    return CT_OK;
}

void add_fields(vtkFieldData *dst, const ct_vtk_field *fields, int n_fields, size_t n_items)
{
    for (int i = 0; i < n_fields; ++i) {
        vtkNew<vtkDoubleArray> arr;
        arr->SetName(fields[i].name);
        arr->SetNumberOfComponents(fields[i].n_components);
        arr->SetNumberOfTuples(static_cast<vtkIdType>(n_items));
        const size_t n = n_items * static_cast<size_t>(fields[i].n_components);
        if (n > 0)
            std::memcpy(arr->GetPointer(0), fields[i].data, n * sizeof(double));
        dst->AddArray(arr);
    }
}

/* open/fsync/close: make the temp file's contents durable before the rename publishes it. */
ct_status fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot reopen for fsync: %s", path, std::strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0 && err != EINVAL && err != EROFS) /* EINVAL/EROFS: file system without fsync */
        return ct_error_set(CT_ERR_IO, "%s: fsync failed: %s", path, std::strerror(err));
    return CT_OK;
}

ct_status write_vtu(const char *path, size_t n_points, const double *xyz_mm, size_t n_tets,
                    const int32_t *tets, const ct_vtk_field *point_fields, int n_point_fields,
                    const ct_vtk_field *cell_fields, int n_cell_fields)
{
    if (path == nullptr || path[0] == '\0')
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_write_vtu: path is NULL or empty");
    if ((n_points > 0 && xyz_mm == nullptr) || (n_tets > 0 && tets == nullptr))
        return ct_error_set(CT_ERR_INTERNAL, "%s: points or tets array is NULL", path);
    if (n_points > static_cast<size_t>(INT32_MAX))
        return ct_error_set(CT_ERR_MESH, "%s: %zu points exceed the int32 index range", path, n_points);
    for (size_t t = 0; t < n_tets; ++t)
        for (int k = 0; k < 4; ++k) {
            int32_t v = tets[4 * t + k];
            if (v < 0 || static_cast<size_t>(v) >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: tet %zu corner %d: point index %d outside [0, %zu)",
                                    path, t, k, static_cast<int>(v), n_points);
        }
    CT_CHECK(check_fields(path, "point", point_fields, n_point_fields, n_points));
    CT_CHECK(check_fields(path, "cell", cell_fields, n_cell_fields, n_tets));

    /* Build the grid: copies of the caller's arrays (VTK must not alias borrowed const memory). */
    vtkNew<vtkUnstructuredGrid> grid;
    vtkNew<vtkDoubleArray> xyz;
    xyz->SetNumberOfComponents(3);
    xyz->SetNumberOfTuples(static_cast<vtkIdType>(n_points));
    if (n_points > 0)
        std::memcpy(xyz->GetPointer(0), xyz_mm, 3 * n_points * sizeof(double));
    vtkNew<vtkPoints> points;
    points->SetData(xyz);
    grid->SetPoints(points);

    vtkNew<vtkIdTypeArray> offsets, connectivity;
    offsets->SetNumberOfTuples(static_cast<vtkIdType>(n_tets + 1));
    connectivity->SetNumberOfTuples(static_cast<vtkIdType>(4 * n_tets));
    for (size_t t = 0; t <= n_tets; ++t)
        offsets->SetValue(static_cast<vtkIdType>(t), static_cast<vtkIdType>(4 * t));
    for (size_t i = 0; i < 4 * n_tets; ++i)
        connectivity->SetValue(static_cast<vtkIdType>(i), tets[i]);
    vtkNew<vtkCellArray> cells;
    cells->SetData(offsets, connectivity);
    grid->SetCells(VTK_TETRA, cells);

    add_fields(grid->GetPointData(), point_fields, n_point_fields, n_points);
    add_fields(grid->GetCellData(), cell_fields, n_cell_fields, n_tets);

    /* Write to PATH.tmp.<pid>, then rename over PATH. */
    const std::string tmp = std::string(path) + ".tmp." + std::to_string(static_cast<long>(getpid()));
    ct_vtk_error_capture errors;
    vtkNew<vtkXMLUnstructuredGridWriter> writer;
    errors.watch(writer);
    writer->SetFileName(tmp.c_str());
    writer->SetInputData(grid);
    writer->SetDataModeToAppended();
    writer->EncodeAppendedDataOff(); /* raw binary, not base64 */
    writer->SetCompressorTypeToZLib();
    writer->SetHeaderTypeToUInt64(); /* blocks > 4 GiB stay addressable */

    const int ok = writer->Write();
    const unsigned long code = writer->GetErrorCode();
    if (ok != 1 || code != vtkErrorCode::NoError || !errors.text.empty()) {
        int saved_errno = errno;
        std::remove(tmp.c_str());
        const char *why = code != vtkErrorCode::NoError ? vtkErrorCode::GetStringFromErrorCode(code)
                                                         : std::strerror(saved_errno);
        return ct_error_set(CT_ERR_IO, "%s: cannot write (temp file %s): %s: %s", path, tmp.c_str(), why,
                            errors.or_else("VTK writer failed"));
    }
    ct_status s = fsync_file(tmp.c_str());
    if (s != CT_OK) {
        std::remove(tmp.c_str());
        return s;
    }
    if (std::rename(tmp.c_str(), path) != 0) {
        int err = errno;
        std::remove(tmp.c_str());
        return ct_error_set(CT_ERR_IO, "%s: cannot rename %s over it: %s", path, tmp.c_str(),
                            std::strerror(err));
    }
    return CT_OK;
}

/* Runs `body` and maps any escaping C++ exception onto a ct_status. */
template <class F> ct_status guarded(const char *what, const char *path, F body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        /* Reading, VTK allocates what the file declares: a corrupt size field ends here too. */
        return ct_error_set(CT_ERR_NOMEM, "%s: %s: out of memory%s", path ? path : "(null)", what,
                            std::strncmp(what, "reading", 7) == 0 ? " (or a corrupt file declaring more data than "
                                                                    "fits in memory)" : "");
    } catch (const std::exception &e) {
        return ct_error_set(CT_ERR_INTERNAL, "%s: %s: C++ exception: %s", path ? path : "(null)", what,
                            e.what());
    } catch (...) {
        return ct_error_set(CT_ERR_INTERNAL, "%s: %s: unknown C++ exception", path ? path : "(null)", what);
    }
}

} // namespace

/* ---- the grid read back ----------------------------------------------------------------------- */

struct ct_vtk_grid {
    struct field {
        std::string name;
        int n_components;
        std::vector<double> data;
    };
    std::string path;
    std::vector<double> points;
    std::vector<int32_t> tets;
    std::vector<field> point_fields, cell_fields;
};

namespace {

void copy_fields(vtkFieldData *src, std::vector<ct_vtk_grid::field> &dst)
{
    for (int i = 0; i < src->GetNumberOfArrays(); ++i) {
        vtkDataArray *a = vtkDataArray::SafeDownCast(src->GetAbstractArray(i));
        if (a == nullptr || a->GetName() == nullptr) /* string / unnamed arrays are not fields */
            continue;
        ct_vtk_grid::field f;
        f.name = a->GetName();
        f.n_components = a->GetNumberOfComponents();
        const vtkIdType n_tuples = a->GetNumberOfTuples();
        f.data.resize(static_cast<size_t>(n_tuples) * static_cast<size_t>(f.n_components));
        for (vtkIdType t = 0; t < n_tuples; ++t)
            for (int c = 0; c < f.n_components; ++c)
                f.data[static_cast<size_t>(t) * f.n_components + c] = a->GetComponent(t, c);
        dst.push_back(std::move(f));
    }
}

/* The .vtu reader, with two VTK 9.1 bugs worked around; both crash on malformed files:
 *  - vtkXMLDataReader::ReadPieceData hands a NULL array to ReadArrayForPoints/ReadArrayForCells when a
 *    <PointData>/<CellData> element holds a DataArray for which no array was set up (no Name, say);
 *  - when a cell data array cannot be read (too short, truncated or corrupt data), it reports this with
 *    a message that dereferences the piece's <PointData> element, which files with cell fields only
 *    (as meshio writes them) do not have.
 * Such failures are recorded here instead and VTK is told the array was read; read_vtu then rejects
 * the file, naming the array.
 * A third bug writes past the end of the heap: VTK sizes each array from counts the file declares
 * (NumberOfPoints, NumberOfCells, the last entry of "offsets" for the connectivity) with unchecked
 * multiplications, so a huge count wraps to a small allocation, and the data read then fills it with
 * as many bytes as the block holds (found by fuzz_vtu: one flipped byte in the last offset). Every
 * read of values goes through ReadArrayValues, so it is checked there: the count must fit the array
 * VTK actually allocated, and no file can hold more values than it has bytes (1 byte is the smallest
 * value, raw; compressed blocks expand at most 65536-fold here, far beyond zlib, LZ4 or LZMA in VTK's
 * 32 KiB blocks), which keeps every byte count far from wrapping. */
class ct_vtu_reader : public vtkXMLUnstructuredGridReader {
public:
    static ct_vtu_reader *New();
    vtkTypeMacro(ct_vtu_reader, vtkXMLUnstructuredGridReader);
    std::string bad_array; /* the first point/cell data array VTK could not read; "" if none */
    std::string bad_count; /* the first array whose declared size is impossible; "" if none */
    long long file_bytes = 0; /* size of the file being read, set before Update() */

protected:
    /* Counts are checked per piece, before VTK allocates anything from them. */
    int ReadPiece(vtkXMLDataElement *piece) override
    {
        const char *counts[2] = {"NumberOfPoints", "NumberOfCells"};
        for (int k = 0; k < 2; ++k) {
            vtkIdType n = 0;
            if (piece->GetScalarAttribute(counts[k], n)) {
                total[k] = n < 0 || n > max_values() - total[k] ? -1 : total[k] + n;
                if (total[k] < 0)
                    return refuse(std::string(counts[k]) + "=\"" + piece->GetAttribute(counts[k]) +
                                  "\" is more than a file of " + std::to_string(file_bytes) + " bytes can hold");
            }
        }
        /* Point and cell data arrays get NumberOfComponents values per point or cell. */
        const char *sections[2] = {"PointData", "CellData"};
        for (int k = 0; k < 2; ++k) {
            vtkXMLDataElement *section = piece->FindNestedElementWithName(sections[k]);
            for (int i = 0; section && i < section->GetNumberOfNestedElements(); ++i) {
                vtkXMLDataElement *da = section->GetNestedElement(i);
                int comps = 1;
                if (da->GetScalarAttribute("NumberOfComponents", comps) &&
                    (comps < 1 || (total[k] > 0 && comps > max_values() / total[k]))) {
                    const char *name = da->GetAttribute("Name");
                    return refuse(std::string(k ? "cell" : "point") + " data array \"" + (name ? name : "(unnamed)") +
                                  "\": NumberOfComponents=\"" + std::to_string(comps) + "\" is out of range [1, " +
                                  std::to_string(total[k] > 0 ? max_values() / total[k] : max_values()) + "]");
                }
            }
        }
        return Superclass::ReadPiece(piece);
    }
    int ReadArrayValues(vtkXMLDataElement *da, vtkIdType array_index, vtkAbstractArray *array,
                        vtkIdType start_index, vtkIdType n_values, FieldType type) override
    {
        const vtkIdType held = array ? array->GetNumberOfValues() : 0;
        if (n_values < 0 || array_index < 0 || start_index < 0 || n_values > max_values() ||
            array_index > held - n_values || (n_values > 0 && array->GetVoidPointer(0) == nullptr)) {
            const char *name = da ? da->GetAttribute("Name") : nullptr;
            vtkXMLDataElement *parent = da ? da->GetParent() : nullptr;
            std::string what = std::string("data array \"") +
                               (name ? name : parent && parent->GetName() ? parent->GetName() : "(unnamed)") +
                               "\"";
            return refuse(what + " declares " + (n_values < 0 ? "more than 2^63" : std::to_string(n_values)) +
                          " values, more than a file of " + std::to_string(file_bytes) +
                          " bytes can hold or than could be allocated (corrupt NumberOfPoints, NumberOfCells, "
                          "NumberOfComponents or \"offsets\")");
        }
        return Superclass::ReadArrayValues(da, array_index, array, start_index, n_values, type);
    }
    int ReadArrayForPoints(vtkXMLDataElement *da, vtkAbstractArray *out_array) override
    {
        if (out_array == nullptr)
            return note_bad("point", da);
        return Superclass::ReadArrayForPoints(da, out_array); /* its failure message is safe */
    }
    int ReadArrayForCells(vtkXMLDataElement *da, vtkAbstractArray *out_array) override
    {
        if (out_array == nullptr || !Superclass::ReadArrayForCells(da, out_array))
            return note_bad("cell", da);
        return 1;
    }

private:
    vtkIdType total[2] = {0, 0}; /* points and cells declared by the pieces so far */

    vtkIdType max_values() const
    {
        const long long expand = this->XMLParser && this->XMLParser->GetCompressor() ? 65536 : 1;
        return file_bytes > LLONG_MAX / expand ? LLONG_MAX : file_bytes * expand;
    }
    int refuse(const std::string &problem)
    {
        if (bad_count.empty())
            bad_count = problem;
        return 0;
    }
    int note_bad(const char *kind, vtkXMLDataElement *da)
    {
        if (bad_array.empty()) {
            const char *name = da ? da->GetAttribute("Name") : nullptr;
            bad_array = std::string(kind) + " data array \"" + (name ? name : "(unnamed)") + "\"";
        }
        return 1;
    }
};
vtkStandardNewMacro(ct_vtu_reader);

ct_status read_vtu(const char *path, ct_vtk_grid **out)
{
    if (out == nullptr || path == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_read_vtu: NULL argument");
    *out = nullptr;

    /* Check existence ourselves: VTK's message for a missing file is vague. */
    struct stat st;
    if (stat(path, &st) != 0)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        return ct_error_set(CT_ERR_IO, "%s: is a directory, not a .vtu file", path);
    FILE *probe = std::fopen(path, "rb");
    if (probe == nullptr)
        return ct_error_set(CT_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    std::fclose(probe);

    ct_vtk_error_capture errors;
    vtkNew<ct_vtu_reader> reader;
    errors.watch(reader);
    reader->SetReaderErrorObserver(errors.command);
    reader->SetParserErrorObserver(errors.command);
    if (!reader->CanReadFile(path))
        return ct_error_set(CT_ERR_PARSE, "%s: not a VTK XML UnstructuredGrid (.vtu) file%s%s", path,
                            errors.text.empty() ? "" : ": ", errors.text.c_str());
    reader->SetFileName(path);
    reader->file_bytes = static_cast<long long>(st.st_size);
    reader->Update();
    if (!reader->bad_count.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read: %s", path, reader->bad_count.c_str());
    const unsigned long code = reader->GetErrorCode();
    vtkUnstructuredGrid *ug = reader->GetOutput();
    if (code != vtkErrorCode::NoError || !errors.text.empty() || ug == nullptr)
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read: %s", path,
                            errors.or_else(vtkErrorCode::GetStringFromErrorCode(code)));
    if (!reader->bad_array.empty())
        return ct_error_set(CT_ERR_PARSE, "%s: cannot read %s: it has no or a duplicate Name, fewer values "
                            "than NumberOfPoints/NumberOfCells x NumberOfComponents, or truncated or corrupt "
                            "data", path, reader->bad_array.c_str());

    const vtkIdType n_points = ug->GetNumberOfPoints();
    const vtkIdType n_cells = ug->GetNumberOfCells();
    if (n_points > INT32_MAX)
        return ct_error_set(CT_ERR_MESH, "%s: %lld points exceed the int32 index range", path,
                            static_cast<long long>(n_points));

    std::unique_ptr<ct_vtk_grid> g(new ct_vtk_grid);
    g->path = path;
    g->points.resize(3 * static_cast<size_t>(n_points));
    for (vtkIdType i = 0; i < n_points; ++i)
        ug->GetPoint(i, &g->points[3 * static_cast<size_t>(i)]);

    g->tets.resize(4 * static_cast<size_t>(n_cells));
    vtkNew<vtkIdList> ids;
    for (vtkIdType c = 0; c < n_cells; ++c) {
        const int type = ug->GetCellType(c);
        if (type != VTK_TETRA) {
            const char *type_name = vtkCellTypes::GetClassNameFromTypeId(type);
            return ct_error_set(CT_ERR_MESH, "%s: cell %lld is a %s (VTK type %d), only linear tetrahedra "
                                "(VTK_TETRA = %d) are supported", path, static_cast<long long>(c),
                                type_name ? type_name : "unknown cell", type, VTK_TETRA);
        }
        ug->GetCellPoints(c, ids);
        if (ids->GetNumberOfIds() != 4)
            return ct_error_set(CT_ERR_MESH, "%s: tetrahedron %lld has %lld points, expected 4", path,
                                static_cast<long long>(c), static_cast<long long>(ids->GetNumberOfIds()));
        for (int k = 0; k < 4; ++k) {
            const vtkIdType v = ids->GetId(k);
            if (v < 0 || v >= n_points)
                return ct_error_set(CT_ERR_MESH, "%s: tetrahedron %lld corner %d: point index %lld outside "
                                    "[0, %lld)", path, static_cast<long long>(c), k,
                                    static_cast<long long>(v), static_cast<long long>(n_points));
            g->tets[4 * static_cast<size_t>(c) + k] = static_cast<int32_t>(v);
        }
    }
    copy_fields(ug->GetPointData(), g->point_fields);
    copy_fields(ug->GetCellData(), g->cell_fields);
    *out = g.release();
    return CT_OK;
}

ct_status find_field(const ct_vtk_grid *g, const std::vector<ct_vtk_grid::field> &fields,
                     const char *kind, const char *name, const double **data, int *n_components)
{
    if (name == nullptr || data == nullptr || n_components == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_%s_field: NULL argument", kind);
    for (const auto &f : fields)
        if (f.name == name) {
            *data = f.data.data();
            *n_components = f.n_components;
            return CT_OK;
        }
    return ct_error_set(CT_ERR_PARSE, "%s: no %s field named \"%s\"", g->path.c_str(), kind, name);
}

} // namespace

/* ---- C entry points --------------------------------------------------------------------------- */

extern "C" ct_status ct_vtk_write_vtu(const char *path, size_t n_points, const double *xyz_mm,
                                      size_t n_tets, const int32_t *tets,
                                      const ct_vtk_field *point_fields, int n_point_fields,
                                      const ct_vtk_field *cell_fields, int n_cell_fields)
{
    return guarded("writing .vtu", path, [&] {
        return write_vtu(path, n_points, xyz_mm, n_tets, tets, point_fields, n_point_fields, cell_fields,
                         n_cell_fields);
    });
}

extern "C" ct_status ct_vtk_read_vtu(const char *path, ct_vtk_grid **out)
{
    if (out != nullptr)
        *out = nullptr;
    return guarded("reading .vtu", path, [&] { return read_vtu(path, out); });
}

extern "C" void ct_vtk_grid_destroy(ct_vtk_grid *g) { delete g; }

extern "C" size_t ct_vtk_grid_n_points(const ct_vtk_grid *g) { return g->points.size() / 3; }
extern "C" size_t ct_vtk_grid_n_tets(const ct_vtk_grid *g) { return g->tets.size() / 4; }
extern "C" const double *ct_vtk_grid_points(const ct_vtk_grid *g) { return g->points.data(); }
extern "C" const int32_t *ct_vtk_grid_tets(const ct_vtk_grid *g) { return g->tets.data(); }

extern "C" ct_status ct_vtk_grid_point_field(const ct_vtk_grid *g, const char *name, const double **data,
                                             int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_point_field: grid is NULL");
    return guarded("looking up point field", g->path.c_str(), [&] {
        return find_field(g, g->point_fields, "point", name, data, n_components);
    });
}

extern "C" ct_status ct_vtk_grid_cell_field(const ct_vtk_grid *g, const char *name, const double **data,
                                            int *n_components)
{
    if (g == nullptr)
        return ct_error_set(CT_ERR_INTERNAL, "ct_vtk_grid_cell_field: grid is NULL");
    return guarded("looking up cell field", g->path.c_str(), [&] {
        return find_field(g, g->cell_fields, "cell", name, data, n_components);
    });
}
